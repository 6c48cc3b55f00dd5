"""Zhu et al.'s 2-D toy: equal total noise variance per variant, and the expected success ordering."""

import numpy as np
import pytest

from sgdnoise.dynamics import ZHU_VARIANTS, zhu_escape_table
from sgdnoise.errors import InvalidInputError

SHAPED = ["isotropic", "diagonal", "covariance", "hessian", "top_eigvec"]


def test_one_step_noise_has_the_common_total_variance():
    n = 4000
    table = zhu_escape_table(SHAPED, n_repeats=n, n_steps=1, noise_variance=0.01, seed=1)
    steps = table.final.reshape(len(SHAPED), n, 2)
    for name, w in zip(SHAPED, steps):
        total = np.trace(np.cov(w.T))
        # variance estimates from 4000 draws: relative sd ≈ √(2/4000) ≈ 2%; allow 8%
        assert total == pytest.approx(0.01, rel=0.08), name
    # the top Hessian eigenvector of the sharp minimum is (1, 1)/√2: all noise on that line
    eig = steps[SHAPED.index("top_eigvec")]
    centred = eig - eig.mean(axis=0)
    assert np.allclose(centred[:, 0], centred[:, 1], atol=1e-12)


def test_success_table_ordering():
    table = zhu_escape_table(n_repeats=60, seed=0).to_frame().set_index("variant")
    assert list(table.index) == list(ZHU_VARIANTS)
    assert table.loc["gd", "successes"] == 0
    # Zhu et al.: Σ-, H- and eigenvector-shaped noise escape far more often than isotropic/diagonal.
    # Expected rates ≈ 0.35-0.4 vs ≈ 0.02; with 60 repeats the gap is > 5 binomial sd.
    for shaped in ("covariance", "hessian", "top_eigvec"):
        assert table.loc[shaped, "success_rate"] > table.loc["isotropic", "success_rate"] + 0.15
        assert table.loc[shaped, "success_rate"] > table.loc["diagonal", "success_rate"] + 0.15
    assert table.loc["isotropic", "success_rate"] < 0.1


def test_without_noise_nothing_escapes():
    table = zhu_escape_table(SHAPED, n_repeats=5, n_steps=100, noise_variance=0.0)
    assert (table.frame["successes"] == 0).all()
    np.testing.assert_array_equal(table.final, np.broadcast_to(table.final[0], table.final.shape))


def test_bad_variant():
    with pytest.raises(InvalidInputError, match="unknown"):
        zhu_escape_table(["adam"])


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"n_repeats": 0}, "n_repeats must be an int ≥ 1"),
        ({"n_steps": 2.0}, "n_steps must be an int ≥ 1"),
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"noise_variance": -0.1}, "noise_variance must be a number ≥ 0"),
    ],
)
def test_bad_numbers(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        zhu_escape_table(["gd"], **bad)
