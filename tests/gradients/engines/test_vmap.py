"""The vmap engine: mini-batch gradients equal the loop's; a module torch.func cannot batch raises."""

from __future__ import annotations

import pytest
import torch

from sgdnoise.gradients.engines import loop_gradients, vmap_gradients

from ..cases import MLP, make_case


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_vmap_gradients_equal_the_loop(kind, loss_fn):
    model, (x, y) = make_case(kind, num_points=12)
    model.eval()
    rows = torch.randint(0, 12, (3, 4), generator=torch.Generator().manual_seed(0))
    grads, losses = vmap_gradients(model, loss_fn, x[rows], y[rows])
    ref, ref_losses = loop_gradients(model, loss_fn, x[rows], y[rows])
    torch.testing.assert_close(losses, ref_losses, atol=1e-12, rtol=0)
    for name in ref:
        torch.testing.assert_close(grads[name], ref[name], atol=1e-10, rtol=0)


def test_a_module_it_cannot_batch_raises(loss_fn):
    """A data-dependent Python branch: torch.func says so while running (the collection then falls back)."""

    class Branchy(MLP):
        def forward(self, x):
            return super().forward(x) if x.sum() > -1e9 else x

    _, (x, y) = make_case("mlp", num_points=12)
    model = Branchy().double()
    rows = torch.arange(12).reshape(3, 4)
    with pytest.raises(RuntimeError):
        vmap_gradients(model, loss_fn, x[rows], y[rows])
