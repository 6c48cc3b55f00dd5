"""Channels-last conv weights for the ``with`` block, restored afterwards.

On a CPU, oneDNN's convolutions and PyTorch's max-pooling run faster on channels-last (NHWC)
tensors than on NCHW ones. A convolution whose weight has channels-last strides gives
channels-last outputs, so the forward and backward passes after it run in that layout. The values
are the same; results differ by float32 rounding only. The loop engine and the full-gradient pass
use it; the entries engine gains nothing from it and keeps NCHW (the measurements are in
benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")

_OWN_LAYOUT: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # models that failed under channels-last, then ran without


@contextlib.contextmanager
def channels_last_weights(model: nn.Module) -> Iterator[nn.Module]:
    """Give every 4-D CPU parameter of ``model`` channels-last strides for the ``with`` block.

    Each parameter keeps its identity (``requires_grad``, hooks, optimizer references); only its
    ``.data`` is swapped for a channels-last copy, and the original tensor is put back on exit,
    also after an exception. A 1-channel weight is restrided too (``contiguous`` would leave it,
    its strides being ambiguous), so the first convolution of a grey-scale net switches as well.
    """
    originals: dict[nn.Parameter, torch.Tensor] = {}
    for p in model.parameters():
        if p.dim() == 4 and p.device.type == "cpu":
            strided = torch.empty_like(p.data, memory_format=torch.channels_last)
            if strided.stride() != p.data.stride():
                originals[p] = p.data
                p.data = strided.copy_(p.data)
    try:
        yield model
    finally:
        for p, data in originals.items():
            p.data = data


def in_channels_last(model: nn.Module, compute: Callable[[], T]) -> T:
    """``compute()`` under :func:`channels_last_weights`, or in the model's own layout if it raises
    a ``RuntimeError`` there: a model may need its 4-D weights contiguous (``weight.view(o, -1)``
    in a weight-standardised conv). A genuine error then raises again from the second call. A
    model that failed under channels-last and then ran in its own layout is remembered (weakly,
    for the process), so later calls, such as the next chunk of a collection, skip the failing
    attempt."""
    if model in _OWN_LAYOUT:
        return compute()
    try:
        with channels_last_weights(model):
            return compute()
    except RuntimeError:
        result = compute()
        _OWN_LAYOUT.add(model)
        return result
