"""Model state during noise collection: evaluation mode, restored afterwards.

SGN is measured at a *fixed* ``w`` (papers.md §1), so nothing may depend on the mini-batch
except the data: BatchNorm uses its running (eval-mode) statistics, which makes every sample's
loss independent of the other samples in its mini-batch, and dropout is off. Each module's
``training`` flag is restored on exit, so a model in train mode stays in train mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (and all submodules) in eval mode for the ``with`` block, then restore each flag."""
    flags = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags.items():
            module.train(flag)


def trainable_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """``name → parameter`` for every parameter with ``requires_grad``, in model order."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}
