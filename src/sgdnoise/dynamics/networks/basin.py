"""Basin half-widths along coordinates: the smallest single-coordinate displacement at which the loss
reaches an escape level, found for many coordinates and both sides at once.

For a centre ``w*`` (P,), a level ``ℓ`` above ``L(w*)`` and coordinate c, the half-widths are
``d_c^+ = min{t > 0 : L(w* + t e_c) ≥ ℓ}`` and ``d_c^− = −min{t > 0 : L(w* − t e_c) ≥ ℓ}`` (Battash
et al.'s ``d_l^±``, measured from the minimum, ``d^− < 0 < d^+``). All searches (C coordinates × 2
sides) advance together: each round evaluates the loss at every still-active displacement in one
call of ``loss_rows`` on a stack ``(R, P)`` of displaced parameter vectors.

1. Bracket: ``t = initial, initial·growth, …`` up to ``cap``; a search stops growing at the first
   ``t`` with ``L ≥ ℓ`` (bracket ``[previous t or 0, t]``). A search that has not reached ``ℓ`` at
   ``t = cap`` is **open**: its half-width is reported as ``±inf`` with a flag, never as a number.
   The grid is geometric, so an excursion above ``ℓ`` narrower than a grid step can be missed
   (the crossing found is then a later one); lower ``growth`` to look closer.
2. Refine: Illinois false position on ``s = t²`` inside the bracket. Near a minimum ``L − L*`` is
   linear in ``t²``, so for a quadratic the first step lands on the root (exact up to rounding).
   A search stops when ``|L − ℓ|`` is at the loss's rounding level or the bracket is narrower than
   ``rtol · t``; the result is the last point evaluated (or the bracket's upper end).

``loss_rows`` is any ``(R, P) → (R,)`` function, e.g.
:meth:`~sgdnoise.dynamics.networks.stacked_loss.StackedLoss.losses`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.plumbing import positive_int, positive_number


@dataclass(frozen=True)
class BasinWidths:
    """Half-widths of the basin along ``coords``.

    coords : ``(C,)`` int64 flat parameter indices. lower, upper : ``(C,)`` float64, ``d^− < 0 < d^+``;
    ``-inf`` / ``+inf`` where the side is open. open_lower, open_upper : ``(C,)`` bool.
    level, center_loss : the escape level ℓ and ``L(w*)``. cap : largest displacement tried.
    evaluations : loss evaluations in total; calls : batched calls of ``loss_rows``.
    """

    coords: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    open_lower: np.ndarray
    open_upper: np.ndarray
    level: float
    center_loss: float
    cap: float
    evaluations: int
    calls: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "center_loss": self.center_loss,
            "cap": self.cap,
            "n_open_lower": int(self.open_lower.sum()),
            "n_open_upper": int(self.open_upper.sum()),
            "evaluations": self.evaluations,
            "calls": self.calls,
        }


def basin_half_widths(
    loss_rows: Callable[[torch.Tensor], torch.Tensor],
    center: torch.Tensor,
    level: float,
    *,
    coords: Any = None,
    initial: Any = 1e-2,
    cap: float = 64.0,
    growth: float = 2.0,
    rtol: float = 1e-9,
    max_iter: int = 200,
    displaced: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> BasinWidths:
    """Half-widths ``d^±`` of the basin of ``center`` (P,) along each coordinate in ``coords``.

    loss_rows : ``(R, P) → (R,)`` the loss at each row.
    level : the escape level ℓ; must exceed ``L(center)``.
    coords : flat indices (default all P).
    initial : first displacement tried, a number or one per coordinate ``(C,)`` (e.g. ``√(2Δ/h_cc)``
        from the Hessian diagonal); must be ≤ ``cap``.
    cap : largest displacement tried; beyond it a side is open.
    growth : factor between bracketing trials (> 1).
    rtol, max_iter : refinement tolerance on the bracket and the round limit (a search still
        unfinished after ``max_iter`` rounds raises :class:`ConvergenceError`).
    displaced : optional ``(coords (R,), steps (R,)) → (R,)`` giving ``L(center + steps_r e_{coords_r})``
        directly (e.g. :class:`~sgdnoise.dynamics.networks.displaced_loss.DisplacedLoss`, which does not
        run the layers before the displaced one again); ``loss_rows`` then only gives ``L(center)``.
    """
    if not isinstance(center, torch.Tensor) or center.ndim != 1 or not center.is_floating_point():
        raise InvalidInputError("center must be a float tensor (P,), the flat parameters at the minimum")
    dim = center.numel()
    coords_t = torch.arange(dim) if coords is None else torch.as_tensor(coords, dtype=torch.int64).reshape(-1)
    if coords_t.numel() == 0 or int(coords_t.min()) < 0 or int(coords_t.max()) >= dim:
        raise InvalidInputError(f"coords must be a non-empty list of flat indices in [0, {dim})")
    positive_number(cap, "cap")
    positive_int(max_iter, "max_iter")
    if not (isinstance(growth, (int, float)) and growth > 1):
        raise InvalidInputError(f"growth must be a number > 1; got {growth!r}")
    n = coords_t.numel()
    dtype = torch.float64
    init = (
        torch.as_tensor(initial, dtype=dtype).expand(n)
        if np.ndim(initial) == 0
        else torch.as_tensor(initial, dtype=dtype).reshape(-1)
    )
    if init.numel() != n or not bool(torch.all(torch.isfinite(init) & (init > 0) & (init <= cap))):
        raise InvalidInputError(f"initial must be one number or one per coordinate ({n}), each in (0, cap={cap}]")
    search = _Searches(loss_rows, center, coords_t, level, displaced)
    # searches 0..n-1 go up, n..2n-1 go down
    t = torch.cat([init, init])
    lo_t = torch.zeros(2 * n, dtype=dtype)
    lo_f = torch.full((2 * n,), search.center_loss - level, dtype=dtype)
    hi_t = torch.full((2 * n,), float("nan"), dtype=dtype)
    hi_f = torch.full((2 * n,), float("nan"), dtype=dtype)
    opened = torch.zeros(2 * n, dtype=torch.bool)
    active = torch.arange(2 * n)
    while active.numel():  # bracket
        f = search(active, t[active])
        crossed = f >= 0
        done = active[crossed]
        hi_t[done], hi_f[done] = t[done], f[crossed]
        rest = active[~crossed]
        lo_t[rest], lo_f[rest] = t[rest], f[~crossed]
        at_cap = t[rest] >= cap
        opened[rest[at_cap]] = True
        active = rest[~at_cap]
        t[active] = (t[active] * growth).clamp(max=cap)
    result = hi_t.clone()
    active = torch.nonzero(~opened).flatten()
    ftol = 8 * torch.finfo(center.dtype).eps * max(abs(level), abs(search.center_loss), level - search.center_loss)
    lo_s, hi_s = lo_t.square(), hi_t.square()
    side = torch.zeros(2 * n, dtype=torch.int8)  # which end the last round replaced: +1 hi, −1 lo
    for _ in range(max_iter):
        if not active.numel():
            break
        a = active
        s = lo_s[a] - lo_f[a] * (hi_s[a] - lo_s[a]) / (hi_f[a] - lo_f[a])
        s = torch.where(torch.isfinite(s) & (s > lo_s[a]) & (s < hi_s[a]), s, 0.5 * (lo_s[a] + hi_s[a]))
        tt = s.sqrt()
        f = search(a, tt)
        up = f >= 0
        hit, miss = a[up], a[~up]
        lo_f[hit] = torch.where(side[hit] == 1, lo_f[hit] / 2, lo_f[hit])  # Illinois: the kept end shrinks
        hi_f[miss] = torch.where(side[miss] == -1, hi_f[miss] / 2, hi_f[miss])
        hi_s[hit], hi_f[hit], side[hit] = s[up], f[up], 1
        lo_s[miss], lo_f[miss], side[miss] = s[~up], f[~up], -1
        result[a] = tt
        close = f.abs() <= ftol
        narrow = hi_s[a].sqrt() - lo_s[a].sqrt() <= rtol * hi_s[a].sqrt()
        result[a[narrow & ~close]] = hi_s[a[narrow & ~close]].sqrt()
        active = a[~(close | narrow)]
    if active.numel():
        raise ConvergenceError(
            f"{active.numel()} basin line searches did not converge in max_iter={max_iter} rounds; raise max_iter"
        )
    result[opened] = float("inf")
    return BasinWidths(
        coords=coords_t.numpy(),
        lower=-result[n:].numpy(),
        upper=result[:n].numpy(),
        open_lower=opened[n:].numpy(),
        open_upper=opened[:n].numpy(),
        level=float(level),
        center_loss=search.center_loss,
        cap=float(cap),
        evaluations=search.evaluations,
        calls=search.calls,
    )


class _Searches:
    """The loss at ``center ± t e_c`` for a set of searches (index ``k < C`` up along ``coords[k]``,
    ``k ≥ C`` down along ``coords[k − C]``), counted."""

    def __init__(self, loss_rows, center: torch.Tensor, coords: torch.Tensor, level: float, displaced=None) -> None:
        self.loss_rows, self.center, self.coords = loss_rows, center.detach(), coords.to(center.device)
        self.displaced = displaced
        self.level, self.evaluations, self.calls = float(level), 0, 0
        self.center_loss = float(self._loss(center.detach()[None])[0])
        if not level > self.center_loss:
            raise InvalidInputError(
                f"the escape level {level} must exceed the loss at the centre ({self.center_loss}); "
                "pass a positive delta_loss or a threshold above 1"
            )

    def _loss(self, rows: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(self.loss_rows(rows)).detach().reshape(-1).to("cpu", torch.float64)
        self.evaluations += rows.shape[0]
        self.calls += 1
        return out

    def __call__(self, which: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = self.coords.numel()
        coord = self.coords[(which % n).to(self.coords.device)]
        if self.displaced is not None:
            values = torch.as_tensor(self.displaced(coord, torch.where(which < n, t, -t))).reshape(-1)
            values = values.detach().to("cpu", torch.float64)
            self.evaluations += which.numel()
            self.calls += 1
        else:
            step = torch.where(which < n, t, -t).to(self.center.device, self.center.dtype)
            rows = self.center.expand(which.numel(), -1).clone()
            rows[torch.arange(which.numel(), device=rows.device), coord] += step
            values = self._loss(rows)
        if bool(torch.isnan(values).any()):
            bad = int(coord[torch.isnan(values).to(coord.device)][0])
            raise ConvergenceError(f"the loss is NaN when coordinate {bad} is displaced; check the model and data")
        return values - self.level
