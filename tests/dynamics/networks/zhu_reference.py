"""Independent references for Zhu's variants on a network: a tiny MLP near a minimum, per-sample
gradients by a loop of ``torch.autograd.grad`` over the samples, the Hessian by
``torch.autograd.functional.hessian``, and every variant's exact unit-trace noise shape from them."""

import math

import torch
import torch.nn.functional as F

from sgdnoise.models import seeded_model

N_POINTS, HESSIAN_K = 12, 3
NOISY = ("isotropic", "diagonal", "covariance", "hessian", "top_eigvec")


def tiny_problem():
    """A tiny MLP (P = 31, float64) after 300 GD steps on 12 random points of 3 classes: ``(model, x, y)``."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(N_POINTS, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(3, (N_POINTS,), generator=gen)
    model = seeded_model("mlp", input_shape=(3,), num_classes=3, seed=0, depth=1, width=4, activation="tanh").double()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x, y


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def loss_at(model, x, y, theta):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    params = dict(zip(names, (c.view(s) for c, s in zip(theta.split([math.prod(s) for s in shapes]), shapes))))
    return F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)


def brute_force_sample_gradients(model, x, y):
    """``(N, P)`` by one autograd call per sample."""
    rows = []
    for i in range(len(x)):
        grads = torch.autograd.grad(F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]), list(model.parameters()))
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    return torch.stack(rows)


def exact_hessian(model, x, y, theta=None):
    """``(P, P)`` by ``torch.autograd.functional.hessian`` of the full-data loss at ``theta`` (default the model's)."""
    return torch.autograd.functional.hessian(
        lambda th: loss_at(model, x, y, th), flat(model) if theta is None else theta
    )


def exact_shapes(model, x, y):
    """Every noisy variant's unit-trace ``C`` from brute-force Σ and the exact Hessian."""
    g = brute_force_sample_gradients(model, x, y)
    centred = g - g.mean(0)
    sigma = centred.T @ centred / len(g)
    hess = exact_hessian(model, x, y)
    lam, u = torch.linalg.eigh(hess)
    lam_k, u_k = lam.flip(0)[:HESSIAN_K].clamp_min(0), u.flip(1)[:, :HESSIAN_K]
    dim = len(sigma)
    return {
        "isotropic": torch.eye(dim, dtype=sigma.dtype) / dim,
        "diagonal": torch.diag(sigma.diagonal()) / sigma.trace(),
        "covariance": sigma / sigma.trace(),
        "hessian": (u_k * lam_k) @ u_k.T / lam_k.sum(),
        "top_eigvec": u_k[:, :1] @ u_k[:, :1].T,
    }
