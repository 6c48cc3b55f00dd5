"""Entry conversion and range checks shared by the closed-form theory functions.

Every public theory function accepts Python scalars, NumPy arrays and torch tensors, broadcasts
them against each other, computes in torch and returns the caller's kind (see
:mod:`sgdnoise.arrays`).
"""

from __future__ import annotations

from typing import Any

import torch

from sgdnoise.arrays import ArrayKind, array_kind, to_tensor
from sgdnoise.errors import InvalidInputError


def as_tensors(infinite: tuple[str, ...] = (), **values: Any) -> tuple[ArrayKind, dict[str, torch.Tensor]]:
    """Convert named inputs to tensors of one kind, broadcast to a common shape.

    Every value must be finite except those named in ``infinite``, which may be ±inf (an open
    side of a basin: ``|d|^{−α} = 0``); NaN is refused everywhere."""
    kind = array_kind(*values.values())
    tensors = {name: to_tensor(v, kind, name=name) for name, v in values.items()}
    try:
        shape = torch.broadcast_shapes(*(t.shape for t in tensors.values()))
    except RuntimeError as exc:
        shapes = ", ".join(f"{n}{tuple(t.shape)}" for n, t in tensors.items())
        raise InvalidInputError(f"inputs do not broadcast together: {shapes}") from exc
    for name, t in tensors.items():
        ok = ~torch.isnan(t) if name in infinite else torch.isfinite(t)
        if not torch.all(ok):
            what = "NaN" if name in infinite else "NaN or Inf"
            raise InvalidInputError(f"{name} contains {what}; pass finite values")
    return kind, {n: t.expand(shape) for n, t in tensors.items()}


def check_alpha(alpha: torch.Tensor, *, allow_two: bool = True) -> None:
    """Raise unless every α lies in (0, 2] (or (0, 2) when ``allow_two`` is false)."""
    ok = (alpha > 0) & ((alpha <= 2) if allow_two else (alpha < 2))
    if not torch.all(ok):
        bad = alpha[~ok].flatten()[:3].tolist()
        interval = "(0, 2]" if allow_two else "(0, 2) (α = 2 is Gaussian: it has no jumps)"
        raise InvalidInputError(f"alpha must lie in {interval}; got {bad}")


def check_positive(value: torch.Tensor, name: str) -> None:
    """Raise unless every entry of ``value`` is > 0."""
    if not torch.all(value > 0):
        raise InvalidInputError(f"{name} must be > 0; got {value[~(value > 0)].flatten()[:3].tolist()}")


def check_unit_interval(value: Any, name: str) -> None:
    """Raise unless ``value`` is a Python number strictly between 0 and 1 (a parameter of a formula)."""
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise InvalidInputError(f"{name} must lie in (0, 1); got {value!r}")


def check_interval(lower: torch.Tensor, upper: torch.Tensor) -> None:
    """Raise unless ``lower < 0 < upper``: boundaries are measured from the minimum."""
    if not torch.all(lower < 0):
        raise InvalidInputError(
            "lower must be < 0 (the boundary below the minimum, measured from it); got "
            f"{lower[~(lower < 0)].flatten()[:3].tolist()}"
        )
    if not torch.all(upper > 0):
        raise InvalidInputError(
            "upper must be > 0 (the boundary above the minimum, measured from it); got "
            f"{upper[~(upper > 0)].flatten()[:3].tolist()}"
        )


def saddle_eigenvalues(
    hessian_min: Any, hessian_saddle: Any, kind: ArrayKind
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Hessian eigenvalues at a minimum and at an index-1 saddle, in the same ``n`` directions,
    as ``(..., n)`` tensors of ``kind`` (a scalar is ``n = 1``), and ``|h_e|`` ``(...)``, the
    magnitude of the saddle's one negative eigenvalue (the escape direction).

    Raises unless both are finite with the same ``n``, every eigenvalue at the minimum is > 0 and
    exactly one at the saddle is < 0.
    """
    h_a, h_b = (
        _eigenvalues(v, kind, name) for v, name in ((hessian_min, "hessian_min"), (hessian_saddle, "hessian_saddle"))
    )
    if h_a.shape[-1] != h_b.shape[-1]:
        raise InvalidInputError(
            f"hessian_min and hessian_saddle need the same number n of eigenvalues (one per direction); got "
            f"{h_a.shape[-1]} and {h_b.shape[-1]}"
        )
    check_positive(h_a, "hessian_min (eigenvalues at the minimum)")
    if not torch.all((h_b < 0).sum(dim=-1) == 1):
        raise InvalidInputError(
            "hessian_saddle must have exactly one negative eigenvalue (an index-1 saddle: the escape direction)"
        )
    return h_a, h_b, h_b.clamp(max=0).sum(dim=-1).abs()


def _eigenvalues(values: Any, kind: ArrayKind, name: str) -> torch.Tensor:
    t = to_tensor(values, kind, name=name)
    if t.ndim == 0:
        t = t.unsqueeze(0)
    if not torch.all(torch.isfinite(t)):
        raise InvalidInputError(f"{name} contains NaN or Inf; pass finite values")
    return t
