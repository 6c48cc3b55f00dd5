"""The collected noise is unbiased and has the covariance of eq. 2, computed exactly from
per-sample gradients enumerated one point at a time."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.gradients import collect_noise

D, B, K = 12, 4, 6000


def _model_and_data():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(7)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)).double()
    x = torch.randn(D, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(D, 1, generator=gen, dtype=torch.float64)
    return model, (x, y)


def _exact_covariance(model, loss_fn, data, replacement: bool) -> torch.Tensor:
    """Eq. 2: Σ = (1/B)[(1/D)Σ_j ∇U_j∇U_jᵀ − ∇U∇Uᵀ], × (D−B)/(D−1) without replacement."""
    x, y = data
    params = list(model.parameters())
    per_sample = torch.stack(
        [
            torch.cat([g.flatten() for g in torch.autograd.grad(loss_fn(model(x[j : j + 1]), y[j : j + 1]), params)])
            for j in range(D)
        ]
    )
    mean = per_sample.mean(0)
    sigma = (per_sample.T @ per_sample / D - torch.outer(mean, mean)) / B
    return sigma if replacement else sigma * (D - B) / (D - 1)


@pytest.mark.parametrize("replacement", [False, True])
def test_noise_is_unbiased_with_eq2_covariance(replacement):
    model, data = _model_and_data()
    loss_fn = nn.MSELoss()
    result = collect_noise(
        model, loss_fn, data, batch_size=B, num_batches=K, seed=11, replacement=replacement, method="vmap"
    )
    u, _ = result.noise_matrix()  # (P, K)
    u = u.T
    sigma = _exact_covariance(model, loss_fn, data, replacement)
    # Mean: each coordinate's sample mean is within 5 standard errors sqrt(Σ_ii/K) of 0
    # (P = 11 coordinates, so a false alarm has probability < 1e-5).
    se_mean = (sigma.diagonal() / K).sqrt()
    assert (u.mean(0).abs() < 5 * se_mean).all()
    # Covariance: each entry of the sample covariance within 5 empirical standard errors
    # std(u_i u_j)/sqrt(K) of eq. 2 (66 distinct entries, K = 6000 draws).
    products = u[:, :, None] * u[:, None, :]
    se_cov = products.std(0) / K**0.5
    z = (products.mean(0) - sigma) / se_cov
    assert z.abs().max() < 5
    # The (D−B)/(D−1) = 8/11 factor is resolved: the trace of the sample covariance is within
    # 5 standard errors std(‖u‖²)/sqrt(K) of tr Σ, and more than 5 away from the other formula.
    other = sigma * ((D - 1) / (D - B) if not replacement else (D - B) / (D - 1))
    sq_norms = (u**2).sum(1)
    se_trace = sq_norms.std() / K**0.5
    assert abs(sq_norms.mean() - sigma.trace()) < 5 * se_trace
    assert abs(sq_norms.mean() - other.trace()) > 5 * se_trace


def test_batch_indices_rows_are_uniform_subsets():
    model, data = _model_and_data()
    result = collect_noise(model, nn.MSELoss(), data, batch_size=B, num_batches=3000, seed=2, method="vmap")
    idx = result.batch_indices
    assert idx.dtype == torch.int64 and idx.shape == (3000, B)
    assert all(len(set(row.tolist())) == B for row in idx)
    # Each point is in a batch with probability B/D = 1/3; 3000 batches give counts
    # 1000 ± 26 (binomial sd); allow 5 sd.
    counts = torch.bincount(idx.flatten(), minlength=D).double()
    assert (counts - 1000).abs().max() < 5 * (3000 * (1 / 3) * (2 / 3)) ** 0.5
