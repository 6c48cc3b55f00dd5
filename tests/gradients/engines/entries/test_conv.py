"""Whole Conv2d weights: per mini-batch (grouped or folded) against autograd, and the stacked weight
gradient against autograd's, to the bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.engines.entries.conv import conv2d_weight_grad, conv2d_weight_per_batch


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    "conv, spatial, folded",
    [
        (dict(kernel_size=3, padding=1), (2, 2), True),  # a ResNet's last stage on 8×8 images
        (dict(kernel_size=3, padding=1), (1, 1), True),  # the centre tap only
        (dict(kernel_size=3, padding=1, stride=2), (2, 2), True),
        (dict(kernel_size=3, padding=2, dilation=2), (2, 3), True),
        (dict(kernel_size=4, padding="same"), (3, 3), True),  # asymmetric padding: one more row/column after
        (dict(kernel_size=(3, 5), padding=(1, 2)), (1, 3), True),
        (dict(kernel_size=3, padding=1), (3, 3), False),  # as many positions as taps: the grouped convolution
        (dict(kernel_size=3, padding=1, groups=2), (2, 2), False),
    ],
)
@pytest.mark.parametrize("piece_bytes", [4 << 20, 1])
def test_conv_weight_per_mini_batch_equals_autograd(conv, spatial, folded, piece_bytes, monkeypatch):
    """Whole conv weights per mini-batch (3 mini-batches per call, or 1 when the scratch passes
    the piece; 7 in all, samples repeated) from the folded outer products of small maps, or the
    grouped convolution, against one ``autograd.grad`` per mini-batch of the summed per-sample
    objective ``Σ_n ⟨δ_n, conv(a_n)⟩``."""
    monkeypatch.setattr(paths, "GROUPED_BATCHES", 3)
    monkeypatch.setattr(paths, "WEIGHT_PIECE_BYTES", piece_bytes)
    assert paths.batches_per_call(100, 8) == (3 if piece_bytes > 800 else 1)
    torch.manual_seed(0)
    module = nn.Conv2d(4, 6, **conv).double()
    assert paths.folds_feature_maps(module, torch.Size(spatial)) is folded
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(10, 4, *spatial, generator=gen, dtype=torch.float64)
    delta = torch.randn_like(module(a), dtype=torch.float64)
    rows = torch.randint(0, 10, (7, 5), generator=gen)
    got = conv2d_weight_per_batch(module, a, delta, rows)
    for k in range(7):
        (want,) = torch.autograd.grad((module(a[rows[k]]) * delta[rows[k]]).sum(), module.weight)
        torch.testing.assert_close(got[k], want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "conv, spatial, batch",
    [
        (dict(kernel_size=3, padding=1), (6, 6), 1),
        (dict(kernel_size=3, stride=2, dilation=2, padding=2, groups=2), (7, 7), 1),
        (dict(kernel_size=3, padding=1), (2, 2), 5),  # per mini-batch: samples of several mini-batches as groups
    ],
)
def test_stacked_weight_gradient_is_autograds_to_the_bit(conv, spatial, batch, dtype):
    """The weight half of the backward with 3 copies of the weight stacked as groups equals, bit for
    bit, autograd's weight gradient of the convolution with those stacked weights."""
    torch.manual_seed(0)
    module = nn.Conv2d(4, 6, **conv).to(dtype)
    copies = 3
    stacked = module.weight.detach().repeat(copies, 1, 1, 1).requires_grad_()
    a = torch.randn(batch, copies * 4, *spatial, dtype=dtype)
    out = nn.functional.conv2d(a, stacked, None, module.stride, module.padding, module.dilation, copies * module.groups)
    delta = torch.randn_like(out)
    (want,) = torch.autograd.grad(out, stacked, delta)
    got = conv2d_weight_grad(module, a, delta, module.padding, copies)
    assert torch.equal(got, want)
