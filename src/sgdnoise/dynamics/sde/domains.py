"""Domains a path must leave: ``Box``, ``Ball``, or any predicate on positions.

A domain answers two batched questions on ``x`` of shape (P, d): ``contains(x) -> (P,) bool``
(strictly inside) and ``exit_axis(x) -> (P,) long`` (the coordinate through which a path that is
no longer inside left).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sgdnoise.errors import InvalidInputError


def _vector(v: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(v, dtype=torch.float64).reshape(-1)
    if t.numel() == 0 or torch.any(torch.isnan(t)):
        raise InvalidInputError(f"{name} must be a non-empty numeric vector without NaN")
    return t


class Domain:
    """Base class of exit domains; ``dim`` is d, or ``None`` if any dimension is accepted."""

    dim: int | None = None

    def contains(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def exit_axis(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Box(Domain):
    """The open box ``lower < x < upper`` (per coordinate; ±inf allowed for an open side).

    ``exit_axis`` is the axis of the violated face; if a step overshoots several faces at once,
    the axis with the largest overshoot.
    """

    def __init__(self, lower: Any, upper: Any):
        lo, up = torch.broadcast_tensors(_vector(lower, "lower"), _vector(upper, "upper"))
        if not torch.all(lo < up):
            raise InvalidInputError(
                f"Box needs lower < upper on every axis; got lower={lo.tolist()}, upper={up.tolist()}"
            )
        self.lower, self.upper, self.dim = lo, up, lo.numel()
        self._cast: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``lower``, ``upper`` in ``x``'s dtype and device (cached: this runs every step)."""
        key = (x.dtype, x.device)
        if key not in self._cast:
            self._cast[key] = (self.lower.to(x), self.upper.to(x))
        return self._cast[key]

    def contains(self, x: torch.Tensor) -> torch.Tensor:
        lo, up = self._bounds(x)
        inside = (x > lo) & (x < up)
        return inside.view(-1) if inside.shape[-1] == 1 else inside.all(dim=-1)  # one axis: no reduction

    def exit_axis(self, x: torch.Tensor) -> torch.Tensor:
        lo, up = self._bounds(x)
        return torch.maximum(lo - x, x - up).argmax(dim=-1)


class Ball(Domain):
    """The open ball ``‖x − center‖ < radius``; ``exit_axis`` is the coordinate of largest ``|x − center|``."""

    def __init__(self, center: Any, radius: float):
        self.center = _vector(center, "center")
        if not (isinstance(radius, (int, float)) and radius > 0):
            raise InvalidInputError(f"Ball radius must be a number > 0; got {radius!r}")
        self.radius, self.dim = float(radius), self.center.numel()

    def contains(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(x - self.center.to(x), dim=-1) < self.radius

    def exit_axis(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.center.to(x)).abs().argmax(dim=-1)


class PredicateDomain(Domain):
    """Any predicate ``inside(x: (P, d)) -> (P,) bool``; ``exit_axis`` is the coordinate of largest
    ``|x − origin|`` (``origin`` defaults to the start of each path when used by ``simulate_exit``)."""

    def __init__(self, inside: Callable[[torch.Tensor], torch.Tensor], origin: Any = None):
        if not callable(inside):
            raise InvalidInputError(f"a domain must be a Box, a Ball or a callable; got {type(inside).__name__}")
        self.inside = inside
        self.origin = None if origin is None else _vector(origin, "origin")

    def contains(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(self.inside(x), device=x.device)
        if out.shape != x.shape[:1]:
            raise InvalidInputError(
                f"the domain predicate must return one bool per path, shape ({x.shape[0]},); got {tuple(out.shape)}"
            )
        return out.to(torch.bool)

    def exit_axis(self, x: torch.Tensor) -> torch.Tensor:
        origin = torch.zeros(x.shape[-1], dtype=x.dtype, device=x.device) if self.origin is None else self.origin.to(x)
        return (x - origin).abs().argmax(dim=-1)


def as_domain(domain: Domain | Callable[[torch.Tensor], torch.Tensor]) -> Domain:
    """A :class:`Domain` from a domain or a predicate."""
    return domain if isinstance(domain, Domain) else PredicateDomain(domain)
