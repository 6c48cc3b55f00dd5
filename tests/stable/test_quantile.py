"""McCulloch's inverse tables against NumPy's linear interpolation of the same nodes."""

import numpy as np
import pytest
import torch

from sgdnoise.stable.density import ALPHA_GRID
from sgdnoise.stable.quantile import alpha_from_nu, q75_standard, standard_quantiles


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_alpha_from_nu_interpolates_the_table_and_clips_at_its_ends(dtype):
    q = standard_quantiles().numpy()
    nu_nodes, alpha = q[:, 1] / q[:, 0], ALPHA_GRID.numpy()  # ν decreases with α
    nu = np.r_[nu_nodes, np.linspace(0.0, 40.0, 4001), 1e30]
    expected = np.interp(nu, nu_nodes[::-1], alpha[::-1])  # clips to the ends, as documented
    got = alpha_from_nu(torch.tensor(nu, dtype=dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12 if dtype == torch.float64 else 1e-5, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_q75_interpolates_on_the_alpha_grid(dtype):
    q = standard_quantiles().numpy()
    alpha = np.r_[ALPHA_GRID.numpy(), np.linspace(0.3, 2.3, 2001)]
    expected = np.interp(alpha, ALPHA_GRID.numpy(), q[:, 0])
    got = q75_standard(torch.tensor(alpha, dtype=dtype))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12 if dtype == torch.float64 else 1e-5, atol=0)
