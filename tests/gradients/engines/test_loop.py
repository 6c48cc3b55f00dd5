"""The loop engine: one autograd.grad per mini-batch, written into given tensors."""

from __future__ import annotations

import torch

from sgdnoise.gradients.engines import loop_gradients

from ..cases import make_case


def test_loop_engine_writes_into_out(loss_fn):
    model, (x, y) = make_case("cnn", num_points=12)
    model.eval()
    rows = torch.randint(0, 12, (3, 4), generator=torch.Generator().manual_seed(0))
    ref, _ = loop_gradients(model, loss_fn, x[rows], y[rows])
    out = {n: torch.full_like(g, torch.nan) for n, g in ref.items()}
    grads, _ = loop_gradients(model, loss_fn, x[rows], y[rows], out=out)
    for name in ref:
        assert grads[name] is out[name]
        torch.testing.assert_close(out[name], ref[name], atol=0, rtol=0)


def test_micro_batches_sum_to_the_mini_batch_gradient(loss_fn):
    """Mini-batches of 8 in micro-batches of 3, 3 and 2, weighted 3/8, 3/8, 2/8: the gradient and
    the loss of the whole mini-batch (float64, rounding far below 1e-10)."""
    model, (x, y) = make_case("resnet", num_points=24)
    model.eval()
    rows = torch.randperm(24, generator=torch.Generator().manual_seed(1)).reshape(3, 8)
    ref, ref_losses = loop_gradients(model, loss_fn, x[rows], y[rows])
    grads, losses = loop_gradients(model, loss_fn, x[rows], y[rows], micro_batch=3)
    torch.testing.assert_close(losses, ref_losses, atol=1e-12, rtol=0)
    for name in ref:
        torch.testing.assert_close(grads[name], ref[name], atol=1e-10, rtol=0)
