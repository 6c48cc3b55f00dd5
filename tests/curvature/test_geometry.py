"""Noise geometry against closed forms (Wang & Wu, Zhu et al.), simulation and explicit formulas."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sgdnoise.curvature import EigenResult, GramOperator, HessianOperator, noise_covariance, per_sample_gradients
from sgdnoise.curvature.geometry import (
    average_alignment,
    directional_alignment,
    gradient_noise_scale,
    hessian_outliers,
    noise_anisotropy,
    noise_strength,
    trace_of_product,
    zhu_loss_increase,
)
from sgdnoise.curvature.operators import empirical_fisher
from sgdnoise.errors import InvalidInputError

from .conftest import spectrum_matrix

HALF_MSE = lambda out, y: 0.5 * F.mse_loss(out, y)  # noqa: E731  L = (1/2n) Σ (f_i − y_i)²
OUTPUT = lambda out, y: out.sum()  # noqa: E731  "loss" whose per-sample gradient is ∇f_i


def _linear_regression(delta_scale: float, n: int = 200_000, seed: int = 0):
    """Gaussian-input linear regression x ~ N(0, S), y = θ*ᵀx + σε, model at θ = θ* + δ."""
    g = torch.Generator().manual_seed(seed)
    s = spectrum_matrix(torch.tensor([3.0, 1.5, 0.7, 0.2], dtype=torch.float64), seed=1)
    x = torch.randn(n, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s).T
    theta_star = torch.tensor([1.0, -0.5, 0.3, 2.0], dtype=torch.float64)
    sigma = 0.5
    y = (x @ theta_star + sigma * torch.randn(n, generator=g, dtype=torch.float64)).unsqueeze(1)
    delta = delta_scale * torch.tensor([0.6, 0.8, -0.4, 0.3], dtype=torch.float64)
    model = nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((theta_star + delta).unsqueeze(0))
    loss_pop = 0.5 * (float(delta @ s @ delta) + sigma**2)
    return model, (x, y), s, delta, loss_pop


def test_wang_wu_closed_form_is_reproduced_by_monte_carlo():
    model, data, s, delta, loss_pop = _linear_regression(1.0)
    sigma1 = noise_covariance(per_sample_gradients(model, HALF_MSE, data, chunk_size=50_000), 1)
    gram = empirical_fisher(per_sample_gradients(model, OUTPUT, data, chunk_size=50_000))
    loss = float(HALF_MSE(model(data[0]), data[1]).detach())
    # closed forms: Σ₁ = 2L·S + SδδᵀS, μ = 1 + δᵀS³δ / (2L·Tr S²)
    sd = s @ delta
    sigma1_exact = 2 * loss_pop * s + torch.outer(sd, sd)
    mu_exact = 1 + float(delta @ s @ s @ s @ delta) / (2 * loss_pop * float((s @ s).trace()))
    # n = 2e5 Gaussian samples: fourth-moment estimates have relative standard error ≈ 3/√n < 1%,
    # so 3% is a > 3σ tolerance.
    assert torch.linalg.norm(sigma1.to_dense() - sigma1_exact) / torch.linalg.norm(sigma1_exact) < 0.03
    result = average_alignment(sigma1, gram, loss)
    assert result.mu == pytest.approx(mu_exact, rel=0.03) and result.mu > 1
    # directional: g(v) = 1 + (vᵀSδ)² / (2L vᵀSv) along the eigenvectors of S (= of the Hessian)
    _, vecs = torch.linalg.eigh(s)
    g_exact = 1 + (vecs.T @ sd) ** 2 / (2 * loss_pop * (vecs * (s @ vecs)).sum(0))
    assert torch.allclose(directional_alignment(sigma1, gram, loss, vecs), g_exact, rtol=0.03)
    assert directional_alignment(sigma1, gram, loss, vecs[:, 0]).ndim == 0


def test_mori_noise_strength_equals_two_l_trace_h_at_the_minimum():
    # at δ = 0 the closed form gives Σ₁ = 2L·S and H = S, so 𝒩/(2L·Tr H) = 1 (Mori's Σ ≈ 2L·H)
    model, data, s, _, _ = _linear_regression(0.0)
    grads = per_sample_gradients(model, HALF_MSE, data, chunk_size=50_000)
    loss = float(HALF_MSE(model(data[0]), data[1]).detach())
    result = noise_strength(grads, loss, trace_h=float(s.trace()))
    assert result.mori_ratio == pytest.approx(1.0, rel=0.03)  # same 3/√n argument as above
    direct = float(grads.square().sum(1).mean() - grads.mean(0).square().sum())
    assert result.strength == pytest.approx(direct, rel=1e-10) and result.ratio == pytest.approx(direct / loss)


def test_zhu_expected_loss_increase_is_reproduced_by_simulation():
    h = spectrum_matrix(torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64), seed=2)
    a = torch.randn(3, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sigma = a @ a.T + 0.1 * torch.eye(3, dtype=torch.float64)  # does not commute with H
    root = torch.linalg.cholesky(sigma)
    paths, dt, checkpoints = 8_000, 2e-3, {50: 0.1, 250: 0.5, 500: 1.0}
    g = torch.Generator().manual_seed(4)
    theta = torch.zeros(paths, 3, dtype=torch.float64)
    for step in range(1, max(checkpoints) + 1):  # Euler–Maruyama, all paths at once
        noise = torch.randn(paths, 3, generator=g, dtype=torch.float64) @ root.T
        theta = theta - dt * theta @ h + math.sqrt(dt) * noise
        if step in checkpoints:
            losses = 0.5 * (theta @ h * theta).sum(1)
            predicted = float(zhu_loss_increase(h, sigma, checkpoints[step]))
            # stderr of a mean of 8 000 paths ≈ 1.6%; the Euler bias is O(dt·λ_max/2) = 0.4%
            stderr = float(losses.std()) / math.sqrt(paths)
            assert abs(float(losses.mean()) - predicted) < 4 * stderr + 0.01 * predicted
    t = torch.tensor([1e-5, 1.0], dtype=torch.float64)
    small = zhu_loss_increase(h, sigma, t)[0]
    assert float(small) == pytest.approx(0.5 * 1e-5 * float((h @ sigma).trace()), rel=1e-4)  # ≈ (t/2) Tr(HΣ)


def _gram_and_hessian(n: int = 30, d: int = 6):
    g = torch.Generator().manual_seed(5)
    grads = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.5
    h = spectrum_matrix(torch.tensor([5.0, 2.0, 1.0, 0.5, 0.1, 0.0], dtype=torch.float64), seed=6)
    return grads, h


def test_trace_of_product_exact_and_subsampled():
    grads, h = _gram_and_hessian(n=200)
    sigma = noise_covariance(grads, 4)
    exact = float((h @ sigma.to_dense()).trace())
    assert trace_of_product(h, sigma) == (pytest.approx(exact, rel=1e-12), 0.0)
    assert trace_of_product(h, sigma.to_dense())[0] == pytest.approx(exact, rel=1e-10)  # dense Σ via eigh
    z = []
    for seed in range(20):  # 50 of 200 rows: the subsample mean is close to normal
        est, se = trace_of_product(h, sigma, max_products=50, seed=seed)
        z.append((est - exact) / se)
    assert max(map(abs, z)) < 3.5


def test_noise_anisotropy_with_dense_and_model_hessians():
    grads, h = _gram_and_hessian()
    sigma = noise_covariance(grads, 1)
    dense = sigma.to_dense()
    result = noise_anisotropy(h, sigma)
    iso = float(h.trace() * dense.trace() / 6)
    assert result.isotropic == pytest.approx(iso) and result.trace_h_stderr == 0.0
    assert result.ratio == pytest.approx(float((h @ dense).trace()) / iso)
    # Σ ∝ H is the most anisotropic aligned noise: ratio = D·Tr(H²)/(Tr H)² > 1
    aligned = noise_anisotropy(h, h)
    assert aligned.ratio == pytest.approx(6 * float((h @ h).trace()) / float(h.trace()) ** 2, rel=1e-8)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    x = torch.randn(25, 3, dtype=torch.float64)
    y = torch.randn(25, 1, dtype=torch.float64)
    op = HessianOperator(net, F.mse_loss, (x, y))
    model_result = noise_anisotropy(
        op, noise_covariance(per_sample_gradients(net, F.mse_loss, (x, y)), 5), n_products=30
    )
    h_dense = op.to_dense()
    sig = noise_covariance(per_sample_gradients(net, F.mse_loss, (x, y)), 5).to_dense()
    assert model_result.trace_h_sigma == pytest.approx(float((h_dense @ sig).trace()), rel=1e-10)
    assert abs(model_result.trace_h - float(h_dense.trace())) < 4 * model_result.trace_h_stderr + 1e-9
    assert model_result.to_dict()["dim"] == op.dim


def test_gradient_noise_scales_match_dense_formulas():
    grads, h = _gram_and_hessian()
    mean = grads.mean(0)
    centred = grads - mean
    sigma1 = centred.T @ centred / grads.shape[0]
    result = gradient_noise_scale(grads, h)
    assert result.b_simple == pytest.approx(float(sigma1.trace() / mean.square().sum()), rel=1e-12)
    assert result.b_noise == pytest.approx(float((h @ sigma1).trace() / (mean @ h @ mean)), rel=1e-12)
    assert result.b_noise_stderr == 0.0
    assert gradient_noise_scale(grads).b_noise is None
    with pytest.raises(InvalidInputError, match="zero"):
        gradient_noise_scale(torch.tensor([[1.0, 2.0], [-1.0, -2.0]]))


def test_outlier_rule():
    spectrum = torch.tensor([40.0, 50.0, 45.0, 2.0, 1.5, 1.0, 0.5, -0.2])
    out = hessian_outliers(spectrum)
    assert out.n == 3 and out.h_star == pytest.approx((50 * 45 * 40) ** (1 / 3)) and out.gap == pytest.approx(20.0)
    # the bulk straddles zero: 0.5 → −0.2 is not a gap, λ_{i+1} is floored at |λ_k| = 0.2
    assert hessian_outliers(torch.tensor([8.0, 0.3, 0.01, -0.01, -0.3])).n == 1
    assert not out.at_edge
    assert hessian_outliers(torch.tensor([5.0, 4.0, 3.0, 2.0])).n == 0
    assert hessian_outliers(torch.tensor([10.0, 9.0, 1.0])).at_edge
    result = EigenResult(
        torch.tensor([9.0, 1.0]),
        torch.eye(2),
        torch.zeros(2),
        torch.ones(2, dtype=torch.bool),
        2,
        2,
        "lanczos",
        "top",
        1e-4,
        0.0,
    )
    assert hessian_outliers(result).n == 1
    with pytest.raises(InvalidInputError):
        hessian_outliers(torch.tensor([1.0]))


def test_alignment_input_checks():
    grads, h = _gram_and_hessian()
    with pytest.raises(InvalidInputError, match="loss"):
        average_alignment(noise_covariance(grads), empirical_fisher(grads), 0.0)
    with pytest.raises(InvalidInputError, match="dimension"):
        average_alignment(noise_covariance(grads), GramOperator(grads[:, :3], 1.0), 1.0)
    with pytest.raises(InvalidInputError, match="positive semi-definite"):
        noise_anisotropy(h, -h - torch.eye(6, dtype=torch.float64))
