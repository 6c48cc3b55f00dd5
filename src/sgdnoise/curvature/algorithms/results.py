"""Frozen result records of the curvature algorithms; each has ``to_dict()`` (JSON-ready)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def _floats(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().cpu().reshape(-1)]


@dataclass(frozen=True)
class EigenResult:
    """Extreme eigenpairs of a symmetric operator.

    eigenvalues : ``(k,)``, descending for ``which="top"``, ascending for ``"bottom"``, by
        descending magnitude for ``"magnitude"``.
    eigenvectors : ``(D, k)``, orthonormal columns.
    residuals : ``(k,)`` residual norms ``‖A y − θ y‖`` (Lanczos: the Ritz estimate
        ``|β_m s_{m,i}|``, exact in exact arithmetic with full re-orthogonalisation).
        ``|θ − λ| ≤ residual`` for the nearest true eigenvalue λ.
    converged : ``(k,)`` bool, ``residual ≤ max(tol·|θ|, atol)`` (Lanczos with ``which="magnitude"``:
        and both extreme Ritz pairs within the same bound).
    n_products : operator products used (HVPs for a Hessian).
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    residuals: torch.Tensor
    converged: torch.Tensor
    n_products: int
    n_iter: int
    method: str
    which: str
    tol: float
    atol: float

    @property
    def all_converged(self) -> bool:
        return bool(self.converged.all())

    def to_dict(self) -> dict:
        return {
            "eigenvalues": _floats(self.eigenvalues),
            "residuals": _floats(self.residuals),
            "converged": [bool(c) for c in self.converged.cpu()],
            "n_products": self.n_products,
            "n_iter": self.n_iter,
            "method": self.method,
            "which": self.which,
            "tol": self.tol,
            "atol": self.atol,
        }


@dataclass(frozen=True)
class TraceResult:
    """A stochastic trace estimate with its standard error (``stderr`` = sample std / √probes)."""

    estimate: float
    stderr: float
    n_products: int
    n_probes: int
    method: str

    def to_dict(self) -> dict:
        return {
            "estimate": self.estimate,
            "stderr": self.stderr,
            "n_products": self.n_products,
            "n_probes": self.n_probes,
            "method": self.method,
        }


@dataclass(frozen=True)
class DiagonalResult:
    """The diagonal of an operator, ``(D,)``, with per-entry standard errors (zero when exact)."""

    estimate: torch.Tensor
    stderr: torch.Tensor
    n_products: int
    method: str

    @property
    def exact(self) -> bool:
        return self.method == "exact"

    def to_dict(self) -> dict:
        return {
            "estimate": _floats(self.estimate),
            "stderr": _floats(self.stderr),
            "n_products": self.n_products,
            "method": self.method,
        }


@dataclass(frozen=True)
class SpectralDensity:
    """Stochastic Lanczos quadrature: per probe ``p``, nodes ``θ_{pj}`` and weights ``w_{pj}``.

    The spectral measure ``(1/D) Σ_i δ(λ − λ_i)`` is approximated by the average over probes of
    ``Σ_j w_{pj} δ(λ − θ_{pj})`` (each probe's weights sum to 1), so ``Tr f(A) ≈ D·E_p[Σ_j w_{pj} f(θ_{pj})]``.
    nodes, weights : ``(n_probes, n_iter)``.
    n_iter : Lanczos steps taken per probe; requested_iter : steps asked for (more than ``D`` are
        clamped to ``D``, see :attr:`clamped` and :attr:`note`).
    """

    nodes: torch.Tensor
    weights: torch.Tensor
    dim: int
    n_products: int
    n_iter: int
    requested_iter: int

    @property
    def clamped(self) -> bool:
        """Whether fewer steps were taken than asked for (the operator has ``D`` < requested)."""
        return self.n_iter < self.requested_iter

    @property
    def note(self) -> str:
        """A sentence for reports when :attr:`clamped`, else ``""``."""
        if not self.clamped:
            return ""
        return (
            f"n_iter={self.requested_iter} was clamped to D={self.dim}: after D Lanczos steps each probe's "
            "nodes are all the eigenvalues and its quadrature is exact"
        )

    def density(self, grid: torch.Tensor, width: float) -> torch.Tensor:
        """Gaussian-smoothed density ``φ(t) = E_p Σ_j w_{pj} N(t; θ_{pj}, width²)`` on ``grid``."""
        z = (grid.to(self.nodes).reshape(-1, 1, 1) - self.nodes) / width
        kernel = torch.exp(-0.5 * z.square()) / (width * math.sqrt(2 * math.pi))
        return (kernel * self.weights).sum(-1).mean(-1)

    def trace_of(self, fn) -> tuple[float, float]:
        """``Tr fn(A)`` estimate and its standard error over probes, ``fn`` elementwise on tensors."""
        per_probe = self.dim * (self.weights * fn(self.nodes)).sum(-1)
        n = per_probe.shape[0]
        stderr = float(per_probe.std() / math.sqrt(n)) if n > 1 else math.inf
        return float(per_probe.mean()), stderr

    def to_dict(self) -> dict:
        return {
            "nodes": self.nodes.detach().cpu().tolist(),
            "weights": self.weights.detach().cpu().tolist(),
            "dim": self.dim,
            "n_products": self.n_products,
            "n_iter": self.n_iter,
            "requested_iter": self.requested_iter,
            "note": self.note,
        }
