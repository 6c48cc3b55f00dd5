"""A model's train/eval mode, switched for a block and given back exactly.

``model.train(flag)`` sets one flag on every submodule, so a function that restores the mode
with it loses a submodule's own mode (a BatchNorm frozen in eval inside a model in train mode
comes back in train mode). :func:`module_mode` records every submodule's flag and puts each
back on exit, also when the block raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

from torch import nn

from sgdnoise.errors import InvalidInputError

Mode = Literal["eval", "train"]


@contextlib.contextmanager
def module_mode(model: nn.Module, mode: Mode) -> Iterator[nn.Module]:
    """Put ``model`` and all its submodules in ``mode`` (``"eval"`` or ``"train"``) for the
    ``with`` block; on exit every module gets back the flag it had on entry."""
    if mode not in ("eval", "train"):
        raise InvalidInputError(f"mode must be 'eval' or 'train'; got {mode!r}")
    flags = [(m, m.training) for m in model.modules()]
    model.train(mode == "train")
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


def evaluation_mode(model: nn.Module) -> contextlib.AbstractContextManager[nn.Module]:
    """``module_mode(model, "eval")``: BatchNorm on its running statistics, dropout off, so
    every sample's loss is independent of the others in its batch (the fixed ``w`` of eq. 1)."""
    return module_mode(model, "eval")
