"""Cubic Lagrange interpolation on uniform grids: the stencil, its weights, and the Newton form.

A value between nodes ``j … j+3`` of a uniform grid, at position ``u ∈ [0, 3]`` from node j, is
``Σ_i w_i(u) v_{j+i}`` with the cubic Lagrange weights ``w_i(u) = Π_{m≠i} (u − m)/(i − m)``
(exact for cubics; error O(h⁴ f⁗) inside the grid). The stencil is centred (u ∈ [1, 2]) away
from the ends and one-sided within the first and last cell. When one row of values is read at
many points, the same cubic in Newton form, ``c₀ + u(c₁ + (u−1)(c₂ + (u−2)c₃))`` with the
forward differences ``(v_j, Δv_j, Δ²v_j/2, Δ³v_j/6)`` stored per node, costs one read of four
contiguous numbers and three multiply-adds per point.
"""

from __future__ import annotations

import torch


def lagrange4(u: torch.Tensor) -> torch.Tensor:
    """Cubic Lagrange weights for nodes 0, 1, 2, 3 at position ``u``; shape ``u.shape + (4,)``."""
    u1, u2, u3 = u - 1, u - 2, u - 3
    lo, hi = u2 * u3, u * u1
    return torch.stack((-u1 * lo / 6, u * lo / 2, -hi * u3 / 2, hi * u2 / 6), dim=-1)


def lagrange_weights(x: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """Cubic Lagrange weights at ``x`` (P,) for 4 arbitrary distinct nodes each (P, 4): (P, 4).

    For equally spaced nodes these are :func:`lagrange4` of the position in units of the spacing.
    """
    diff = x[:, None] - nodes  # (P, 4)
    weights = []
    for i in range(4):
        others = [m for m in range(4) if m != i]
        num = diff[:, others].prod(1)
        den = (nodes[:, i : i + 1] - nodes[:, others]).prod(1)
        weights.append(num / den)
    return torch.stack(weights, dim=1)


def newton_coefficients(values: torch.Tensor) -> torch.Tensor:
    """Newton forward-difference coefficients of rows of node values (..., n): (..., n, 4).

    Entry ``[..., j, :]`` is ``(v_j, Δv_j, Δ²v_j/2, Δ³v_j/6)``, the cubic through nodes j … j+3;
    the last three nodes start no stencil and hold zeros.
    """
    n = values.shape[-1] - 3
    d1 = values.diff(dim=-1)
    d2 = d1.diff(dim=-1)
    d3 = d2.diff(dim=-1)
    coef = torch.zeros(*values.shape, 4, dtype=values.dtype, device=values.device)
    coef[..., :n, :] = torch.stack([values[..., :n], d1[..., :n], d2[..., :n] / 2, d3 / 6], dim=-1)
    return coef


def horner(coef: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Evaluate Newton-form cubics ``coef`` (..., 4) at positions ``u`` (...) from their first node."""
    return coef[..., 0] + u * (coef[..., 1] + (u - 1) * (coef[..., 2] + (u - 2) * coef[..., 3]))


def stencil_start(pos: torch.Tensor, n: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First node index of the 4-node stencil around grid position ``pos`` (in units of the step,
    from node 0) on a grid of ``n`` nodes, and ``pos`` relative to it. ``n`` may be a tensor
    broadcasting against ``pos`` (grids of different lengths). A NaN position gets node 0 and a NaN
    relative position, so it interpolates to NaN instead of indexing out of range."""
    start = torch.floor(torch.nan_to_num(pos, nan=0.0)) - 1
    start = torch.minimum(start.clamp_min(0), torch.as_tensor(n - 4, dtype=pos.dtype, device=pos.device))
    return start.long(), pos - start
