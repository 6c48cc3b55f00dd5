"""The top Hessian eigenpairs at ``R`` points at once: one Lanczos recurrence per point.

Each row ``θ_r`` of ``θ (R, P)`` has its own Hessian ``H(θ_r)``. A :class:`LanczosProcess` runs
independent recurrences in the columns of one block, so with the block's column ``r`` mapped to
``H(θ_r) v_r`` (one batched Hessian-vector product per step for all points) it runs one Lanczos
per point; its Ritz pairs and their convergence test are the Lanczos module's
(:meth:`LanczosProcess.ritz_pairs`, :func:`ritz_converged`).
"""

from __future__ import annotations

import torch

from sgdnoise.curvature.algorithms import LanczosProcess, LinearOperator, ritz_converged
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.errors import ConvergenceError


class _ColumnwiseHessian(LinearOperator):
    """Column ``r`` of a ``(P, R)`` block ↦ ``H(θ_r) v_r``: ``R`` Hessians, one per column.

    Not one matrix: only for :class:`LanczosProcess`, whose columns are independent recurrences
    (each column sees only its own Hessian).
    """

    def __init__(self, loss: StackedLoss, theta: torch.Tensor) -> None:
        super().__init__(theta.shape[1], theta.dtype, theta.device)
        self.loss, self.theta = loss, theta

    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.loss.hessian_products(self.theta, vectors.T.contiguous()).T


def top_hessian_eigenpairs(
    loss: StackedLoss, theta: torch.Tensor, k: int, starts: torch.Tensor, *, tol: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` Hessian eigenpairs at every row of ``θ (R, P)``: values ``(R, k)`` descending, vectors ``(R, P, k)``.

    One Lanczos recurrence per row from ``starts (R, P)``, all advanced by one batched HVP per
    step, until every wanted Ritz pair has residual ``|β_m s_{m,i}| ≤ tol·|λ₁|`` (Parlett §13.1;
    relative to the row's top eigenvalue, since that is the accuracy the unit-trace noise shape
    needs). Each vector's sign is fixed so that its largest-magnitude entry is positive.
    ``generator`` draws the restart vector of a recurrence that finds an invariant subspace
    (possible only when ``P`` is tiny). Raises :class:`ConvergenceError` if that takes more than
    ``min(P, max(100, 20k))`` steps.
    """
    op = _ColumnwiseHessian(loss, theta)
    max_steps = min(op.dim, max(100, 20 * k))
    process = LanczosProcess(op, starts.T.contiguous(), max_steps, generator)
    while True:
        process.step()
        m = process.steps
        if m < k:
            continue
        ritz, s, res = process.ritz_pairs()  # ascending
        values, s_top, residuals = ritz[:, -k:].flip(-1), s[:, :, -k:].flip(-1), res[:, -k:].flip(-1)
        scale = values[:, :1].abs().clamp_min(torch.finfo(values.dtype).tiny)
        if bool(ritz_converged(values, residuals, tol=0.0, atol=tol * scale).all()):
            break
        if m == max_steps:
            raise ConvergenceError(
                f"Lanczos did not find the top {k} Hessian eigenpairs of every repeat in {m} steps "
                f"(worst relative residual {float((residuals / scale).max()):.3g} > tol={tol}); "
                "lower hessian_k or raise lanczos_tol"
            )
    vectors = torch.einsum("jdr,rjk->rdk", process.basis[:m], s_top)
    peak = vectors.abs().argmax(dim=1, keepdim=True)
    return values, vectors * torch.gather(vectors, 1, peak).sign()
