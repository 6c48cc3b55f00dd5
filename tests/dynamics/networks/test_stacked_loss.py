"""The full-data loss at stacked flat parameters: gradients, per-sample gradients and Hessian-vector
products at several rows at once, each against autograd at one point (brute force)."""

import copy

import torch
import torch.nn.functional as F

from sgdnoise.dynamics.networks.stacked_loss import StackedLoss

from .zhu_reference import brute_force_sample_gradients, exact_hessian, flat, loss_at


def _rows(model):
    gen = torch.Generator().manual_seed(5)
    start = flat(model)
    return torch.stack([start, start + 0.1 * torch.randn(start.shape, generator=gen, dtype=start.dtype)])


def _at(model, theta):
    twin = copy.deepcopy(model)
    torch.nn.utils.vector_to_parameters(theta, twin.parameters())
    return twin


def test_every_row_against_autograd_at_that_point(setup):
    model, x, y = setup
    loss = StackedLoss(model, F.cross_entropy, x, y)
    theta = _rows(model)
    assert loss.dim == theta.shape[1] and torch.equal(loss.start, theta[0])
    vectors = torch.randn(theta.shape, generator=torch.Generator().manual_seed(6), dtype=theta.dtype)
    grads, samples, products = (
        loss.gradients(theta),
        loss.sample_gradients(theta),
        loss.hessian_products(theta, vectors),
    )
    for r in range(2):
        point = theta[r].clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(loss_at(model, x, y, point), point)
        torch.testing.assert_close(grads[r], expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(
            samples[r], brute_force_sample_gradients(_at(model, theta[r]), x, y), rtol=0, atol=1e-12
        )
        torch.testing.assert_close(products[r], exact_hessian(model, x, y, theta[r]) @ vectors[r], rtol=0, atol=1e-10)


def test_frozen_parameters_stay_fixed_and_out_of_the_vector(setup):
    model, x, y = setup
    frozen = copy.deepcopy(model)
    first = next(frozen.parameters())
    first.requires_grad_(False)
    loss = StackedLoss(frozen, F.cross_entropy, x, y)
    assert loss.dim == flat(model).numel() - first.numel()
    trainable = [p for p in frozen.parameters() if p.requires_grad]
    expected = torch.autograd.grad(F.cross_entropy(frozen(x), y), trainable)
    torch.testing.assert_close(
        loss.gradients(loss.start[None])[0], torch.cat([g.reshape(-1) for g in expected]), rtol=0, atol=1e-12
    )
