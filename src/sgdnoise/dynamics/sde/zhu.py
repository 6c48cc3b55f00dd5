"""GD plus noise of different shapes at equal total variance on Zhu et al.'s 2-D toy (papers.md §5).

Each step ``w ← w − η ∇U(w) + ξ`` with ``ξ ~ N(0, v·C(w))``, ``Tr C = 1`` and ``v`` the common
total variance, for the shapes ``C`` of Zhu, Wu, Yu, Wu & Ma (2019):

* ``gd`` — no noise; ``isotropic`` — ``I/d`` (GLD-const); ``diagonal`` — ``diag Σ/Tr Σ``;
* ``covariance`` — ``Σ/Tr Σ`` (GLD-full); ``hessian`` — ``H/Tr H``; ``top_eigvec`` — ``v₁v₁ᵀ``,
  v₁ the leading Hessian eigenvector;
* ``sgd`` — plain mini-batch SGD (its own noise ``η² Σ/B``, not rescaled),

where ``Σ(w)`` is the covariance of the per-sample gradients and ``H(w)`` the Hessian at the
current point. Start at the sharp minimum (1, 1); success = both coordinates < −0.5 after the
last step (the path reached the flat basin). Expected (Zhu et al.): GD never escapes,
isotropic/diagonal rarely, covariance/Hessian/eigenvector-shaped often.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.dynamics.sde.noise import psd_sqrt
from sgdnoise.dynamics.sde.potentials import ZhuToy
from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import positive_int, positive_number
from sgdnoise.rng import Seed, as_generator

ZHU_VARIANTS = ("gd", "sgd", "isotropic", "diagonal", "covariance", "hessian", "top_eigvec")
_SHAPED = ("gd", "isotropic", "diagonal", "covariance", "hessian", "top_eigvec")


@dataclass(frozen=True)
class ZhuEscapeTable:
    """Success counts per noise variant; ``final`` (R·V, 2) end points in variant-major order."""

    frame: pd.DataFrame
    final: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.frame.to_dict(orient="records"), "final": self.final.tolist()}


def _unit_trace_shapes(per_sample: torch.Tensor, hess: torch.Tensor) -> torch.Tensor:
    """Every shaped variant's ``C(w)`` with trace 1 (gd: 0), stacked as (len(_SHAPED), P, 2, 2)."""
    centred = per_sample - per_sample.mean(dim=1, keepdim=True)
    sigma = centred.transpose(1, 2) @ centred / per_sample.shape[1]
    eye = torch.eye(2, dtype=sigma.dtype, device=sigma.device).expand_as(sigma)
    trace = lambda m: m.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None]  # noqa: E731
    top = torch.linalg.eigh(hess).eigenvectors[..., -1:]  # (P, 2, 1)
    return torch.stack(
        [
            torch.zeros_like(sigma),
            eye / 2,
            torch.diag_embed(sigma.diagonal(dim1=-2, dim2=-1)) / trace(sigma),
            sigma / trace(sigma),
            hess / trace(hess),
            top @ top.transpose(1, 2),
        ]
    )


def zhu_escape_table(
    variants: Sequence[str] = ZHU_VARIANTS,
    *,
    n_repeats: int = 100,
    lr: float = 0.005,
    n_steps: int = 500,
    noise_variance: float = 0.01,
    batch_size: int = 1,
    toy: ZhuToy | None = None,
    seed: Seed = 0,
) -> ZhuEscapeTable:
    """Run every variant ``n_repeats`` times from (1, 1) for ``n_steps`` steps, all paths at once.

    ``noise_variance`` is the total variance v added to the weights each step (Zhu's 0.01);
    ``batch_size`` is the mini-batch of the ``sgd`` variant. Returns a table with columns
    variant, successes, n_repeats, success_rate, success_rate_stderr (binomial).
    """
    unknown = [v for v in variants if v not in ZHU_VARIANTS]
    if unknown or not variants:
        raise InvalidInputError(f"unknown Zhu noise variants {unknown}; choose from {ZHU_VARIANTS}")
    for name, value in (("n_repeats", n_repeats), ("n_steps", n_steps), ("batch_size", batch_size)):
        positive_int(value, name)
    positive_number(lr, "lr")
    if not noise_variance >= 0:
        raise InvalidInputError(f"noise_variance must be a number ≥ 0; got {noise_variance!r}")
    toy = toy or ZhuToy()
    gen = as_generator(seed)
    variant_of_path = torch.tensor([ZHU_VARIANTS.index(v) for v in variants]).repeat_interleave(n_repeats)
    n_paths = len(variant_of_path)
    is_sgd = variant_of_path == ZHU_VARIANTS.index("sgd")
    shaped_index = torch.tensor([_SHAPED.index(v) if v != "sgd" else 0 for v in ZHU_VARIANTS])[variant_of_path]
    rows = torch.arange(n_paths)
    w = torch.ones(n_paths, 2, dtype=torch.float64)
    n_data = toy.data.shape[0]
    for _ in range(n_steps):
        per_sample, hess = toy.per_sample_grad_and_hessian(w)  # (P, N, 2), (P, 2, 2)
        batch = torch.randint(n_data, (n_paths, batch_size), generator=gen)
        sgd_grad = per_sample[rows[:, None], batch].mean(dim=1)
        full_grad = per_sample.mean(dim=1)
        shapes = _unit_trace_shapes(per_sample, hess)[shaped_index, rows]
        z = torch.randn(n_paths, 2, 1, generator=gen, dtype=w.dtype)
        xi = (noise_variance**0.5) * (psd_sqrt(shapes) @ z).squeeze(-1)
        w = torch.where(is_sgd[:, None], w - lr * sgd_grad, w - lr * full_grad + xi)
    success = (w < -0.5).all(dim=1)
    counts = [int(success[variant_of_path == ZHU_VARIANTS.index(v)].sum()) for v in variants]
    rate = np.array(counts) / n_repeats
    frame = pd.DataFrame(
        {
            "variant": list(variants),
            "successes": counts,
            "n_repeats": n_repeats,
            "success_rate": rate,
            "success_rate_stderr": np.sqrt(rate * (1 - rate) / n_repeats),
        }
    )
    return ZhuEscapeTable(frame=frame, final=w.numpy())
