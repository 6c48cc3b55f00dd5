"""simple_noise_scale: the estimates of Tr Σ₁ and ‖G‖² are unbiased (Monte Carlo over many
independent sets of K mini-batches drawn without replacement, against the exact values of a
table of per-sample gradients)."""

import pytest
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.monitor import simple_noise_scale

D, P, B, K, R = 40, 5, 6, 8, 20000


@pytest.fixture(scope="module")
def draws():
    g = torch.Generator().manual_seed(0)
    grads = torch.randn(D, P, generator=g, dtype=torch.float64) + torch.linspace(-0.5, 1.0, P, dtype=torch.float64)
    full = grads.mean(0)
    trace_sigma = (grads - full).square().sum(1).mean()  # Tr Σ₁, Σ₁ = (1/D) Σ_j (∇ℓ_j − G)(∇ℓ_j − G)ᵀ
    # R independent measurements of K mini-batches, each a uniform B-subset (argsort of uniforms)
    idx = torch.rand(R * K, D, generator=g).argsort(1)[:, :B].reshape(R, K, B)
    batch_grads = grads[idx].mean(2)  # (R, K, P)
    var_sum = batch_grads.var(1).sum(-1)  # (R,)
    mean_sq = batch_grads.mean(1).square().sum(-1)  # (R,)
    return full, trace_sigma, var_sum, mean_sq


def _close(estimates: torch.Tensor, exact: float) -> None:
    stderr = float(estimates.std() / len(estimates) ** 0.5)
    assert abs(float(estimates.mean()) - exact) < 4 * stderr + 1e-12


def test_trace_and_norm_estimates_are_unbiased(draws):
    full, trace_sigma, var_sum, mean_sq = draws
    b, tr, g2 = simple_noise_scale(var_sum, mean_sq, batch_size=B, num_batches=K, num_points=D)
    _close(tr, float(trace_sigma))
    _close(g2, float(full.square().sum()))
    finite = torch.isfinite(b)
    assert bool(torch.equal(finite, g2 > 0)) and torch.allclose(b[finite], tr[finite] / g2[finite])


def test_exact_norm_is_used_as_given(draws):
    full, trace_sigma, var_sum, mean_sq = draws
    exact = full.square().sum().expand(R)
    b, _, g2 = simple_noise_scale(var_sum, mean_sq, batch_size=B, num_batches=K, num_points=D, exact_norm_sq=exact)
    assert torch.equal(g2, exact)
    _close(b, float(trace_sigma / full.square().sum()))  # unbiased: only the numerator is random


def test_unresolved_gradient_gives_nan_and_bad_sizes_raise():
    b, _, g2 = simple_noise_scale(
        torch.tensor([10.0, 1.0]), torch.tensor([0.5, 5.0]), batch_size=2, num_batches=4, num_points=10
    )
    assert float(g2[0]) < 0 and torch.isnan(b[0]) and torch.isfinite(b[1])
    with pytest.raises(InvalidInputError, match="at least 2"):
        simple_noise_scale(torch.ones(1), torch.ones(1), batch_size=2, num_batches=1, num_points=10)
    with pytest.raises(InvalidInputError, match="below the number of points"):
        simple_noise_scale(torch.ones(1), torch.ones(1), batch_size=10, num_batches=4, num_points=10)
