"""Exit displacements split over directions: how much of each seed's squared displacement lies
on given orthonormal directions (e.g. the top Hessian eigenvectors), and how much on the rest.

For a displacement ``d`` and directions ``V`` (``D × k``, orthonormal columns), the coefficients
are ``c = d V`` and the share on direction ``i`` is ``c_i² / ‖d‖²``; the rest is ``1 − Σ_i c_i²/‖d‖²``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError


@dataclass(frozen=True)
class ProjectionShares:
    """Squared displacement split over directions: ``share_top[s] = Σ_i c_{s,i}² / ‖d_s‖²`` with
    ``c = d V`` (V: (D, k) orthonormal columns), ``share_rest = 1 − share_top``; ``coefficients`` (S, k)."""

    coefficients: torch.Tensor
    share_each: torch.Tensor
    share_top: torch.Tensor
    share_rest: torch.Tensor

    def mean(self) -> dict[str, float]:
        """Mean share on the directions and on the rest, with standard errors over seeds."""
        n = self.share_top.numel()
        se = float(self.share_top.double().std() / np.sqrt(n)) if n > 1 else float("nan")
        return {
            "share_top": float(self.share_top.double().mean()),
            "share_rest": float(self.share_rest.double().mean()),
            "stderr": se,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "share_each": self.share_each.tolist(),
            "share_top": self.share_top.tolist(),
            "share_rest": self.share_rest.tolist(),
            "mean": self.mean(),
        }


def project_displacements(displacement: torch.Tensor, directions: Any) -> ProjectionShares:
    """Share of each seed's squared displacement on the columns of ``directions`` vs the rest.

    displacement : ``(S, D)``. directions : ``(D, k)`` orthonormal columns, or an object with
    ``.eigenvectors`` such (e.g. ``sgdnoise.curvature.hessian_eigenvalues(...)``). Rows with
    zero displacement get NaN shares.
    """
    V = getattr(directions, "eigenvectors", directions)
    V = torch.as_tensor(V).to(displacement)
    d = displacement
    if d.ndim != 2 or V.ndim != 2 or V.shape[0] != d.shape[1]:
        raise InvalidInputError(
            f"displacement must be (S, D) and directions (D, k); got {tuple(d.shape)} and {tuple(V.shape)}"
        )
    gram = V.T @ V
    tol = 1e-4 if V.dtype == torch.float32 else 1e-8
    if not torch.allclose(gram, torch.eye(V.shape[1], dtype=V.dtype, device=V.device), atol=tol, rtol=0):
        raise InvalidInputError(
            "directions must have orthonormal columns (e.g. Hessian eigenvectors); "
            "orthonormalise them with torch.linalg.qr"
        )
    coef = d @ V
    total = (d * d).sum(dim=1)
    each = coef.square() / total[:, None]
    top = each.sum(dim=1)
    return ProjectionShares(coefficients=coef, share_each=each, share_top=top, share_rest=1 - top)
