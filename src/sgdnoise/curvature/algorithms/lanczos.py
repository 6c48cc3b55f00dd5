"""Lanczos with full re-orthogonalisation: extreme eigenpairs of a symmetric operator.

For a start vector q₁, Lanczos builds an orthonormal basis ``Q_m = [q₁ … q_m]`` of the Krylov
space and the tridiagonal ``T_m = Q_mᵀ A Q_m`` (diagonal α, off-diagonal β). An eigenpair
``(θ_i, s_i)`` of ``T_m`` gives the Ritz pair ``(θ_i, Q_m s_i)`` with residual norm
``‖A y_i − θ_i y_i‖ = |β_m s_{m,i}|`` (Parlett, *The Symmetric Eigenvalue Problem*, §13.1),
and some eigenvalue λ of A satisfies ``|λ − θ_i| ≤ |β_m s_{m,i}|``. Every new vector is
re-orthogonalised against the whole basis (twice, classical Gram–Schmidt), so the estimate
stays trustworthy and no spurious copies ("ghosts") appear. When β vanishes (an invariant
subspace was found) the process continues from a random vector orthogonal to the basis with
β = 0, so after ``D`` steps the whole spectrum is exact.

Known limit of single-vector Lanczos: a repeated eigenvalue is found once per invariant
subspace, so its multiplicity is not resolved before the Krylov space is exhausted.

:class:`LanczosProcess` runs several independent start vectors at once (one ``matmat`` per step),
which stochastic Lanczos quadrature uses; :func:`lanczos` is the eigen-solver.
"""

from __future__ import annotations

import torch

from sgdnoise.curvature.algorithms.probes import gaussian
from sgdnoise.curvature.algorithms.results import EigenResult
from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.errors import ConfigError, ConvergenceError, InvalidInputError
from sgdnoise.rng import Seed, as_generator


class LanczosProcess:
    """``p`` simultaneous Lanczos recurrences with full re-orthogonalisation.

    ``start`` has shape ``(D, p)``; after ``m`` calls of :meth:`step`, ``alpha`` and ``beta``
    are ``(m, p)`` and ``basis[:m]`` is ``(m, D, p)``.
    """

    def __init__(self, op: LinearOperator, start: torch.Tensor, max_steps: int, generator: torch.Generator) -> None:
        if not 1 <= max_steps <= op.dim:
            raise InvalidInputError(f"the number of Lanczos steps must be in [1, D={op.dim}]; got {max_steps}")
        self.op, self.generator, self.max_steps = op, generator, max_steps
        p = start.shape[1]
        # the basis grows by doubling, so memory follows the steps taken, not max_steps
        self.basis = torch.zeros((min(max_steps + 1, 32), op.dim, p), dtype=op.dtype, device=op.device)
        self.basis[0] = start / start.norm(dim=0)
        self.alpha = torch.zeros((max_steps, p), dtype=op.dtype, device=op.device)
        self.beta = torch.zeros((max_steps, p), dtype=op.dtype, device=op.device)
        self.steps = 0
        self._scale = torch.zeros(p, dtype=op.dtype, device=op.device)  # running estimate of ‖A‖

    def _orthogonalise(self, w: torch.Tensor, upto: int) -> torch.Tensor:
        q = self.basis[:upto]
        for _ in range(2):  # "twice is enough" (Kahan–Parlett)
            w = w - torch.einsum("jdp,jp->dp", q, torch.einsum("jdp,dp->jp", q, w))
        return w

    def step(self) -> None:
        """One Lanczos step for every column: one ``matmat`` with ``p`` columns."""
        j = self.steps
        q = self.basis[j]
        w = self.op.matmat(q)
        self.alpha[j] = (q * w).sum(0)
        w = self._orthogonalise(w, j + 1)
        b = w.norm(dim=0)
        self._scale = torch.maximum(self._scale, self.alpha[j].abs() + b)
        broke = b <= 1e3 * torch.finfo(self.op.dtype).eps * self._scale.clamp_min(torch.finfo(self.op.dtype).tiny)
        if broke.any() and j + 1 < self.op.dim:  # invariant subspace: restart orthogonally with β = 0
            fresh = self._orthogonalise(gaussian(self.op, w.shape[1], self.generator), j + 1)
            w = torch.where(broke, fresh / fresh.norm(dim=0), w / b.clamp_min(torch.finfo(self.op.dtype).tiny))
            b = torch.where(broke, torch.zeros_like(b), b)
        else:
            w = w / b.clamp_min(torch.finfo(self.op.dtype).tiny)
        self.beta[j] = b
        if j + 1 == self.basis.shape[0]:
            grow = min(self.basis.shape[0], self.max_steps + 1 - self.basis.shape[0])
            self.basis = torch.cat([self.basis, torch.zeros_like(self.basis[:grow])])
        self.basis[j + 1] = w
        self.steps = j + 1

    def ritz_pairs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For every column at once: Ritz values ``(p, m)`` ascending, eigenvectors of ``T_m``
        ``(p, m, m)`` (column ``i`` is ``s_i``) and residual norms ``|β_m s_{m,i}|`` ``(p, m)``."""
        m = self.steps
        a, b = self.alpha[:m].T, self.beta[:m].T
        t = torch.diag_embed(a) + torch.diag_embed(b[:, :-1], 1) + torch.diag_embed(b[:, :-1], -1)
        theta, s = torch.linalg.eigh(t)
        return theta, s, (b[:, -1:] * s[:, -1, :]).abs()

    def ritz(self, column: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Ritz values ``(m,)`` ascending, eigenvectors of ``T_m`` ``(m, m)``, residual norms ``(m,)``."""
        theta, s, residuals = self.ritz_pairs()
        return theta[column], s[column], residuals[column]

    def tridiagonal_eigs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For every column: Ritz values ``(p, m)`` and squared first components of ``T``'s eigenvectors."""
        theta, s, _ = self.ritz_pairs()
        return theta, s[:, 0, :].square()


def ritz_converged(
    values: torch.Tensor, residuals: torch.Tensor, *, tol: float, atol: float | torch.Tensor = 0.0
) -> torch.Tensor:
    """Which Ritz pairs have converged: ``residual ≤ max(tol·|θ|, atol)``, elementwise.

    ``values`` and ``residuals`` have one shape; ``atol`` is a number or a tensor that broadcasts
    against them (e.g. ``(p, 1)``: one absolute tolerance per column of a :class:`LanczosProcess`).
    The residual bounds the eigenvalue error (``|λ − θ| ≤ residual``, Parlett §13.1).
    """
    return residuals <= torch.clamp(tol * values.abs(), min=atol)


WHICH = ("top", "bottom", "magnitude")


def _wanted(theta: torch.Tensor, k: int, which: str) -> torch.Tensor:
    """Positions of the wanted ``k`` among ascending Ritz values ``theta`` ``(m,)``: descending for
    "top", ascending for "bottom", by descending ``|θ|`` for "magnitude" (ties: the smaller θ first)."""
    m = theta.shape[0]
    if which == "top":
        return torch.arange(m - 1, m - 1 - k, -1)
    if which == "bottom":
        return torch.arange(k)
    return theta.abs().argsort(descending=True, stable=True)[:k]


def lanczos(
    op: LinearOperator,
    k: int = 5,
    *,
    which: str = "top",
    tol: float = 1e-4,
    atol: float = 0.0,
    max_iter: int | None = None,
    seed: Seed = 0,
    strict: bool = True,
) -> EigenResult:
    """The ``k`` largest (``which="top"``), smallest (``"bottom"``) or largest in magnitude
    (``"magnitude"``, PyHessian's notion: the eigenvalues farthest from zero, of either sign)
    eigenpairs of ``op``.

    Iterates until every wanted Ritz pair has residual ``≤ max(tol·|θ|, atol)``, which bounds the
    eigenvalue error by the same amount (usually far less: ``residual²/gap``); for "magnitude"
    the smallest and the largest Ritz pair must meet the same bound too (else no pair counts as
    converged), so that an end still moving outwards is not passed over for a value of smaller
    magnitude. One product per
    iteration. If ``max_iter`` (default ``min(D, max(100, 20k))``) is reached first, raises
    :class:`ConvergenceError` (``strict=True``) or returns the pairs with ``converged`` flags.
    """
    if not isinstance(k, int) or not 1 <= k <= op.dim:
        raise InvalidInputError(f"k must be an int in [1, D={op.dim}]; got {k!r}")
    if which not in WHICH:
        raise ConfigError(f"which must be one of {WHICH}; got {which!r}")
    if not (tol >= 0 and atol >= 0 and tol + atol > 0):
        raise InvalidInputError(f"tol and atol must be >= 0 and not both 0; got tol={tol}, atol={atol}")
    max_iter = min(op.dim, max(100, 20 * k)) if max_iter is None else max_iter
    if not isinstance(max_iter, int) or not k <= max_iter <= op.dim:
        raise InvalidInputError(f"max_iter must be an int in [k={k}, D={op.dim}]; got {max_iter!r}")
    generator = as_generator(seed, op.device)
    start_products = op.n_products
    process = LanczosProcess(op, gaussian(op, 1, generator), max_iter, generator)
    while True:
        process.step()
        if process.steps < k:
            continue
        theta, s, res = process.ritz()
        idx = _wanted(theta, k, which)
        settled = ritz_converged(theta, res, tol=tol, atol=atol)
        values, residuals, converged = theta[idx], res[idx], settled[idx]
        if which == "magnitude":
            # both ends converge at their own pace: an end still moving outwards may yet overtake
            # the wanted values, so no wanted pair counts as converged before both extremes settle
            converged = converged & settled[0] & settled[-1]
        if bool(converged.all()) or process.steps == max_iter:
            break
    if strict and not bool(converged.all()):
        raise ConvergenceError(
            f"Lanczos did not converge in {max_iter} iterations: relative residuals "
            f"{(residuals / values.abs()).tolist()} (tol={tol}, atol={atol}); raise max_iter, loosen tol, set atol "
            "for eigenvalues near zero, or pass strict=False to get the values with their convergence flags"
        )
    vectors = torch.einsum("jd,jk->dk", process.basis[: process.steps, :, 0], s[:, idx])
    return EigenResult(
        values,
        vectors,
        residuals,
        converged,
        op.n_products - start_products,
        process.steps,
        "lanczos",
        which,
        tol,
        atol,
    )
