"""Lemma 3.3 (eq. 10) pinned on numbers computed by hand, and fed to Prop. 3.4."""

import numpy as np
import pytest
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory import battash_covariance_row_sums, battash_second_moment


def test_second_moment_by_hand():
    # t = 0.5, w = (1, 2), α = 1.5, ε = 0.1, h = (1, 2), ρ = 0.5, s = 1 (ε̄ = ε):
    # μ = 2t (ε^{−ρ(1−α)} − 1)/(1 − α) = (0.1^{0.25} − 1)/(−0.5) = 0.875317
    # A_12 = 0.1·2·e^{−1}·μ·(1 + (1 − e^{−0.5})) = 0.0897425;  A_21 = 0.1·1·e^{−0.5}·μ·(1 + ½(1 − e^{−1})) = 0.0698704
    # A_11 = 0.1·e^{−0.5}·μ·1.393469 = 0.0739799;  A_22 = 0.1·2·e^{−1}·μ·1.316060 = 0.0847571
    m = battash_second_moment(0.5, np.array([1.0, 2.0]), 1.5, 0.1, np.array([1.0, 2.0]), rho=0.5)
    expected = np.array(
        [
            [np.exp(-1.0) + 2 * 0.0739799, 2 * np.exp(-1.5) + 0.0698704 + 0.0897425],
            [2 * np.exp(-1.5) + 0.0698704 + 0.0897425, 4 * np.exp(-2.0) + 2 * 0.0847571],
        ]
    )
    np.testing.assert_allclose(m, expected, rtol=2e-6)
    # at t = 0 only the start remains: w wᵀ
    np.testing.assert_allclose(battash_second_moment(0.0, [1.0, 2.0], 1.5, 0.1, [1.0, 2.0], rho=0.5), [[1, 2], [2, 4]])


def test_alpha_one_is_the_limit_and_prop34_takes_the_moment():
    w, h = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64), torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    at_one = battash_second_moment(0.7, w, 1.0, 0.05, h, rho=0.4)
    near = battash_second_moment(0.7, w, 1.0 + 1e-6, 0.05, h, rho=0.4)
    torch.testing.assert_close(at_one, near, rtol=1e-5, atol=1e-9)
    g = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    hess = torch.eye(3, dtype=torch.float64).expand(6, 3, 3).clone()
    rows = battash_covariance_row_sums(g, 2, sample_hessians=hess, second_moment=at_one)
    assert rows.shape == (3,)
    with pytest.raises(InvalidInputError, match="do not broadcast"):
        battash_second_moment(0.5, w, torch.tensor([1.5, 1.2]), 0.1, h, rho=0.5)
    with pytest.raises(InvalidInputError, match="t "):
        battash_second_moment(-1.0, w, 1.5, 0.1, h, rho=0.5)
