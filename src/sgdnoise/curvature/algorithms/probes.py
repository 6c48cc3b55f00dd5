"""Random probe vectors for the stochastic estimators."""

from __future__ import annotations

import torch

from sgdnoise.curvature.operators.base import LinearOperator


def rademacher(op: LinearOperator, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(D, k)`` matrix of independent ±1 entries, in the operator's dtype and device."""
    bits = torch.randint(0, 2, (op.dim, k), generator=generator, device=generator.device)
    return bits.to(device=op.device, dtype=op.dtype).mul_(2).sub_(1)


def gaussian(op: LinearOperator, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(D, k)`` matrix of independent standard normal entries, in the operator's dtype and device."""
    return torch.randn((op.dim, k), generator=generator, device=generator.device, dtype=op.dtype).to(op.device)
