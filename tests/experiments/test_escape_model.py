"""Issue 15's must-show: the Lévy framework on a model where the answer is known, and the interface on a network.

The known model is a separable quadratic whose per-sample gradients are SαS with a different α
per coordinate: per-sample losses ``ℓ_i(w) = w·ξ_i + ½ Σ_l h_l w_l²`` with ``ξ_{il} ~ SαS(α_l, 1)``.
Its minimum is ``w* = −ξ̄/h``, the loss is ``L* + ½ Σ h_l (w_l − w*_l)²`` exactly, so the basin
half-widths at ``L* + Δ`` are ``±√(2Δ/h_l)``, and SGD's noise with B = 1 is ``ξ̄ − ξ_i``: SαS(α_l)
up to the finite sample.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.experiments.escape_model import run_escape_model
from sgdnoise.stable import sample_sas

ALPHA = torch.tensor([1.1, 1.4, 1.8], dtype=torch.float64)
H = torch.tensor([1.0, 1.5, 2.0], dtype=torch.float64)
DELTA, LR, N = 2.0, 0.1, 3000


class SeparableQuadratic(nn.Module):
    """``model(x)_i = x_i·w + ½ Σ h w²`` (one output per sample); the loss is its mean."""

    def __init__(self, h: torch.Tensor, w: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("h", h)
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.w + 0.5 * (self.h * self.w**2).sum()).unsqueeze(-1)


def mean_loss(out, y):
    return out.mean()


def quadratic_problem():
    xi = sample_sas(ALPHA[None, :].expand(N, 3).contiguous(), 1.0, seed=1)
    return SeparableQuadratic(H, -xi.mean(0) / H).double(), (xi, torch.zeros(N, dtype=torch.float64))


@pytest.fixture(scope="module")
def quadratic(single_thread):
    model, data = quadratic_problem()
    return run_escape_model(
        model, mean_loss, data, lr=LR, batch_size=1, delta_loss=DELTA, num_batches=4000, n_seeds=256, max_steps=2000
    )


def test_alpha_recovered_and_basin_exact(quadratic):
    r = quadratic
    # cf fit of K = 4000 draws: sd of α̂ ≈ 0.03–0.05; 0.15 is ≥ 3 sd
    np.testing.assert_allclose(r.alpha, ALPHA.numpy(), atol=0.15)
    np.testing.assert_allclose(r.scale, 1.0, atol=0.1)
    half = np.sqrt(2 * DELTA / H.numpy())
    np.testing.assert_allclose(r.basin_upper, half, rtol=1e-9)
    np.testing.assert_allclose(r.basin_lower, -half, rtol=1e-9)
    # Prop. 3.4's row sum equals Σ·1 from the covariance operator
    np.testing.assert_allclose(r.inputs.row_sums_prop34, r.inputs.row_sums, rtol=1e-10)


def test_predicted_exits_are_ordered_by_alpha_and_sgd_follows_them(quadratic):
    r = quadratic
    p = r.exit_prob_predicted
    assert p.sum() == pytest.approx(1.0)
    assert list(np.argsort(-p)) == list(np.argsort(ALPHA.numpy()))  # lower α, likelier exit
    counts = r.exit_counts["sgd"]
    n = counts.sum()
    assert n == 256  # every seed escaped, and through a coordinate
    share = counts / n
    # each share within 3 binomial standard errors of the prediction, and a χ² goodness-of-fit test
    assert np.all(np.abs(share - p) <= 3 * np.sqrt(p * (1 - p) / n))
    assert stats.chisquare(counts, p * n).pvalue > 0.01
    # the mean escape time: the small-noise law within 30% (it is an ε → 0 limit; here ≈ 20%)
    sgd_mean = np.nanmean(r.escape_steps["sgd"])
    assert r.mean_escape_predicted == pytest.approx(sgd_mean, rel=0.3)


def test_levy_model_escapes_like_sgd_and_gauss_does_not(quadratic):
    r = quadratic
    steps = {m: np.nan_to_num(s, nan=np.inf) for m, s in r.escape_steps.items()}
    assert stats.ks_2samp(steps["levy"], steps["sgd"]).pvalue > 0.05
    assert stats.ks_2samp(steps["gauss"], steps["sgd"]).pvalue < 1e-6
    table = r.comparison.set_index("model")
    assert table.loc["levy", "ks_to_sgd"] < table.loc["gauss", "ks_to_sgd"]
    assert table.loc["sgd", "spearman_alpha_exits"] == -1.0  # 3 parameters, exits fall with α
    assert table.loc["levy", "tv_to_sgd"] < table.loc["gauss", "tv_to_sgd"]


def test_results_write(quadratic, tmp_path):
    paths = quadratic.write(tmp_path)
    for p in paths.values():
        assert p.exists()
    assert len(quadratic.parameters_frame()) == 3


@pytest.fixture(scope="module")
def network(single_thread, breast_cancer_minimum):
    return breast_cancer_minimum(150)


def test_interface_on_a_network(network):
    model, data = network
    dim = sum(p.numel() for p in model.parameters())
    r = run_escape_model(
        model, F.cross_entropy, data, lr=0.5, batch_size=4, threshold=1.5, num_batches=60, n_seeds=12, max_steps=30
    )
    for name in ("alpha", "scale", "basin_lower", "basin_upper", "exit_prob_predicted"):
        assert getattr(r, name).shape == (dim,)
    assert r.exit_prob_predicted.sum() == pytest.approx(1.0)
    assert np.all(r.basin_lower < 0) and np.all(r.basin_upper > 0)
    # the interface's three models, and GD + skewed stable and GD + full-Σ Gaussian beside them
    assert set(r.exit_counts) == set(r.escape_steps) == {"sgd", "levy", "gauss", "stable", "gauss_full"}
    assert list(r.comparison.model) == ["sgd", "levy", "gauss", "stable", "gauss_full"]
    assert np.all(np.abs(r.inputs.stable_beta[np.isfinite(r.inputs.stable_beta)]) <= 1) and r.inputs.noise is None
    for m in ("sgd", "levy", "gauss", "stable", "gauss_full"):
        steps = r.escape_steps[m]
        assert steps.shape == (12,)
        assert r.exit_counts[m].shape == (dim,)
        assert r.exit_counts[m].sum() <= np.isfinite(steps).sum()
        assert np.all((steps[np.isfinite(steps)] >= 1) & (steps[np.isfinite(steps)] <= 30))
        # an exit through a side that is open is impossible
        ex = r.exits[m]
        for s in np.flatnonzero(ex.index >= 0):
            assert np.isfinite(r.basin_upper[ex.index[s]]) or np.isfinite(r.basin_lower[ex.index[s]])
    open_both = np.isinf(r.basin_lower) & np.isinf(r.basin_upper)
    assert np.all(r.exit_prob_predicted[open_both] == 0)
    assert np.isfinite(r.mean_escape_predicted)


def test_bad_escape_rules_raise():
    model, data = quadratic_problem()  # its minimum loss is negative: threshold × L* is no level
    with pytest.raises(InvalidInputError, match="delta_loss"):
        run_escape_model(model, mean_loss, data, lr=LR, batch_size=1, num_batches=50, n_seeds=2, max_steps=2)
    with pytest.raises(ConfigError, match="delta_loss"):
        run_escape_model(model, mean_loss, data, lr=LR, batch_size=1, delta_loss=-1.0)
