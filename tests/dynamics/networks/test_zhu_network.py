"""Zhu et al.'s noise variants on a network: injected noise has the claimed covariance, gd/sgd are exact,
repeats together equal repeats alone, the variance follows SGD's with match_at="current", bad input.

References are independent (``zhu_reference``): exact noise shapes from brute-force Σ and the exact
Hessian, GD by a plain loop, SGD by ``torch.optim.SGD`` fed the same batches.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.dynamics import ZHU_VARIANTS, batch_indices, zhu_network_dynamics
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.models import seeded_model

from .zhu_reference import HESSIAN_K, N_POINTS, NOISY, brute_force_sample_gradients, exact_shapes, flat, loss_at


@pytest.mark.parametrize("variant", NOISY)
def test_injected_noise_has_the_claimed_covariance(setup, variant):
    """One step of M = 4000 repeats: ξ = w₁ − w₀ + η∇L(w₀) must have covariance v·C.

    Each entry of the sample covariance S = ξᵀξ/M of zero-mean Gaussian draws has standard deviation
    √((C_ii C_jj + C_ij²)/M); we allow 5 of them per entry (P(any of the 496 entries fails) < 1e-3)."""
    model, x, y = setup
    lr, v, m = 0.1, 0.3, 4000
    run = zhu_network_dynamics(
        model,
        F.cross_entropy,
        (x, y),
        seeds=range(m),
        variants=[variant],
        lr=lr,
        n_steps=1,
        batch_size=2,
        noise_variance=v,
        hessian_k=HESSIAN_K,
        lanczos_tol=1e-10,
    )
    start = flat(model)
    grad = torch.autograd.grad(loss_at(model, x, y, start.requires_grad_()), start)[0]
    xi = run.params[0] - start.detach() + lr * grad
    sample = xi.T @ xi / m
    exact = v * exact_shapes(model, x, y)[variant]
    d = exact.diagonal()
    bound = 5 * ((d[:, None] * d[None, :] + exact.square()) / m).sqrt() + 1e-12
    assert bool(((sample - exact).abs() <= bound).all())


def test_gd_variant_is_plain_gradient_descent(setup):
    model, x, y = setup
    lr, steps = 0.3, 25
    run = zhu_network_dynamics(
        model, F.cross_entropy, (x, y), seeds=[0, 1], variants=["gd"], lr=lr, n_steps=steps, batch_size=2
    )
    twin = copy.deepcopy(model)
    for _ in range(steps):
        grads = torch.autograd.grad(F.cross_entropy(twin(x), y), list(twin.parameters()))
        with torch.no_grad():
            for p, g in zip(twin.parameters(), grads):
                p -= lr * g
    assert torch.allclose(run.of("gd"), flat(twin).expand(2, -1), atol=1e-12, rtol=0)


def test_sgd_variant_is_torch_sgd_on_the_same_batches(setup):
    model, x, y = setup
    lr, steps, batch, seeds = 0.2, 30, 3, (4, 9)
    run = zhu_network_dynamics(
        model, F.cross_entropy, (x, y), seeds=seeds, variants=["sgd", "gd"], lr=lr, n_steps=steps, batch_size=batch
    )
    for r, seed in enumerate(seeds):
        twin = copy.deepcopy(model)
        opt = torch.optim.SGD(twin.parameters(), lr=lr)
        for idx in batch_indices(seed, N_POINTS, batch, steps):
            opt.zero_grad()
            F.cross_entropy(twin(x[idx]), y[idx]).backward()
            opt.step()
        assert torch.allclose(run.of("sgd")[r], flat(twin), atol=1e-12, rtol=0)


def test_repeats_together_equal_repeats_one_at_a_time(setup):
    model, x, y = setup
    kwargs = {
        "lr": 0.1,
        "n_steps": 12,
        "batch_size": 3,
        "noise_variance": 0.01,
        "hessian_k": HESSIAN_K,
        "refresh": 5,
        "lanczos_tol": 1e-10,
        "block_steps": 5,
    }
    together = zhu_network_dynamics(model, F.cross_entropy, (x, y), seeds=[3, 7], **kwargs)
    for r, seed in enumerate((3, 7)):
        alone = zhu_network_dynamics(model, F.cross_entropy, (x, y), seeds=[seed], **kwargs)
        assert torch.allclose(together.params[:, r], alone.params[:, 0], atol=1e-8, rtol=0)
    distance = together.distance()
    assert distance.shape == (len(ZHU_VARIANTS), 2) and bool((distance[1:] > 0).all())


def test_match_at_current_rescales_by_sgd_variance_at_the_current_point(setup):
    """Step 2 of a run with ``match_at="current"`` is step 2 of the fixed-variance run with its noise
    scaled by √(v(w₁)/v(w₀)), v(w) = η²(N − B)/(B(N − 1))·TrΣ(w) by brute force (same seeds, same draws)."""
    model, x, y = setup
    lr, batch = 0.3, 4
    kwargs = {"seeds": [2], "variants": ["isotropic"], "lr": lr, "batch_size": batch, "refresh": 1}
    w1 = zhu_network_dynamics(model, F.cross_entropy, (x, y), n_steps=1, **kwargs).params[0, 0]
    fixed, current = (
        zhu_network_dynamics(model, F.cross_entropy, (x, y), n_steps=2, match_at=m, **kwargs).params[0, 0]
        for m in ("start", "current")
    )
    at_w1 = copy.deepcopy(model)
    torch.nn.utils.vector_to_parameters(w1, at_w1.parameters())

    def variance(net):
        g = brute_force_sample_gradients(net, x, y)
        return lr**2 * (N_POINTS - batch) / (batch * (N_POINTS - 1)) * (g - g.mean(0)).square().sum() / N_POINTS

    theta = w1.clone().requires_grad_()
    drift = w1 - lr * torch.autograd.grad(loss_at(model, x, y, theta), theta)[0]
    ratio = (variance(at_w1) / variance(model)).sqrt()
    assert torch.allclose(current - drift, ratio * (fixed - drift), atol=1e-12, rtol=1e-9)
    assert abs(float(ratio) - 1) > 1e-3  # the test has power: the variance did change


@pytest.mark.parametrize(
    "bad",
    [
        {"variants": ["langevin"]},
        {"variants": []},
        {"lr": 0.0},
        {"lr": -1.0},
        {"n_steps": 0},
        {"seeds": [1, 1]},
        {"batch_size": N_POINTS + 1},
        {"noise_variance": -1.0},
        {"hessian_k": 0},
        {"refresh": 0},
        {"match_at": "end"},
        {"match_at": "current", "noise_variance": 0.1},
    ],
)
def test_bad_input_is_rejected(setup, bad):
    model, x, y = setup
    kwargs = {"seeds": [0], "variants": ["gd"], "lr": 0.1, "n_steps": 2, "batch_size": 2} | bad
    with pytest.raises(InvalidInputError):
        zhu_network_dynamics(model, F.cross_entropy, (x, y), **kwargs)


def test_divergence_is_reported(setup):
    """Linear least squares with a step far beyond 2/λ_max overflows within a few steps."""
    _, x, _ = setup
    model = seeded_model("mlp", input_shape=(3,), num_classes=1, seed=0, depth=0).double()
    with pytest.raises(ConvergenceError, match="'gd' diverged"):
        zhu_network_dynamics(
            model, F.mse_loss, (x, x[:, :1]), seeds=[0], variants=["gd"], lr=1e200, n_steps=5, batch_size=2
        )
