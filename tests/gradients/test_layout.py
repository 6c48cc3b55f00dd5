"""Channels-last conv weights during the loop engine: same values, originals put back."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.gradients.engines import loop_gradients
from sgdnoise.gradients.layout import channels_last_weights, in_channels_last


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 3),
    ).eval()


def test_weights_are_channels_last_inside_and_the_same_tensors_after():
    model = _net()
    before = {n: (p.data_ptr(), p.stride(), p.detach().clone()) for n, p in model.named_parameters()}
    with channels_last_weights(model):
        for n, p in model.named_parameters():
            if p.dim() == 4:  # the 1-channel weight too, whose NCHW strides are ambiguous
                assert p.stride() == torch.empty_like(p, memory_format=torch.channels_last).stride() != before[n][1]
            assert torch.equal(p, before[n][2]) and p.requires_grad
    for n, p in model.named_parameters():
        assert (p.data_ptr(), p.stride()) == before[n][:2] and torch.equal(p, before[n][2])


def test_originals_are_put_back_after_an_error():
    model = _net()
    ptrs = [p.data_ptr() for p in model.parameters()]
    with pytest.raises(RuntimeError), channels_last_weights(model):
        raise RuntimeError("boom")
    assert [p.data_ptr() for p in model.parameters()] == ptrs


def test_the_loop_engine_matches_plain_autograd_in_nchw(loss_fn):
    model = _net()
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 5, 1, 8, 8, generator=gen), torch.randint(0, 3, (3, 5), generator=gen)
    grads, losses = loop_gradients(model, loss_fn, x, y)
    params = dict(model.named_parameters())
    for k in range(3):
        loss = loss_fn(model(x[k]), y[k])
        for (n, _p), g in zip(params.items(), torch.autograd.grad(loss, list(params.values()))):
            torch.testing.assert_close(grads[n][k], g, rtol=1e-5, atol=1e-6)
        assert abs(float(losses[k]) - loss.item()) < 1e-6


class _StandardisedConv(nn.Conv2d):
    """A weight-standardised conv: its forward views the 4-D weight as (out, -1), which needs
    contiguous strides."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.view(self.out_channels, -1)
        w = ((w - w.mean(1, keepdim=True)) / (w.std(1, keepdim=True) + 1e-5)).view_as(self.weight)
        return self._conv_forward(x, w, self.bias)


def test_a_model_that_needs_contiguous_weights_runs_in_its_own_layout(loss_fn):
    torch.manual_seed(0)
    model = nn.Sequential(_StandardisedConv(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()
    with pytest.raises(RuntimeError), channels_last_weights(model):  # the case handled
        model(torch.randn(1, 2, 6, 6))
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(2, 5, 2, 6, 6, generator=gen), torch.randint(0, 3, (2, 5), generator=gen)
    grads, _ = loop_gradients(model, loss_fn, x, y)
    params = dict(model.named_parameters())
    for k in range(2):
        for (n, _p), g in zip(params.items(), torch.autograd.grad(loss_fn(model(x[k]), y[k]), list(params.values()))):
            torch.testing.assert_close(grads[n][k], g, rtol=1e-5, atol=1e-6)


def test_a_model_that_failed_under_channels_last_is_not_tried_again(loss_fn):
    torch.manual_seed(0)
    model = nn.Sequential(_StandardisedConv(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[0]))
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(2, 5, 2, 6, 6, generator=gen), torch.randint(0, 3, (2, 5), generator=gen)
    loop_gradients(model, loss_fn, x, y)
    assert len(calls) == 3  # one failed forward under channels-last, then the 2 mini-batches
    calls.clear()
    loop_gradients(model, loss_fn, x, y)  # the next chunk: straight to the model's own layout
    assert len(calls) == 2
    assert not in_channels_last(_net(), lambda: False)  # another model still tries channels-last
