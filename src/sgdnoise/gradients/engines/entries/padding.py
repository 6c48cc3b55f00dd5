"""A Conv2d's zero padding as explicit widths, for the weight paths that read the padded input.

``padding="same"`` with an even kernel pads one more row/column after than before, which the
convolution's own symmetric ``padding`` argument cannot express.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pad_widths(module: nn.Conv2d, spatial: torch.Size) -> tuple[int, int, int, int]:
    """``F.pad`` widths ``(left, right, top, bottom)`` equivalent to the conv's padding of input maps ``spatial``."""
    if module.padding == "valid":
        return (0, 0, 0, 0)
    if module.padding == "same":
        widths = []
        for k, d in zip(reversed(module.kernel_size), reversed(module.dilation)):
            total = d * (k - 1)
            widths += [total // 2, total - total // 2]
        return tuple(widths)
    ph, pw = module.padding
    return (pw, pw, ph, ph)


def explicitly_padded(module: nn.Conv2d, a: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(a, (top, left))``: ``a`` ``(N, C, H, W)`` with asymmetric padding applied (then no padding
    is left to the convolution), else ``a`` and the conv's symmetric padding."""
    left, right, top, bottom = pad_widths(module, a.shape[2:])
    if (left, top) != (right, bottom):
        return F.pad(a, (left, right, top, bottom)), (0, 0)
    return a, (top, left)
