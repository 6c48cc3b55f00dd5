"""The inputs of Battash et al.'s Lévy escape theory, measured on a network at a minimum.

For every parameter l of the flat vector (``torch.nn.utils.parameters_to_vector`` order):

* α_l and the scale σ_l: an SαS fit (:func:`sgdnoise.stable.fit_sas`) of the noise
  ``u_{k,l} = ∂_l U(w*) − ∂_l U_{Ω_k}(w*)`` of K mini-batches of size B
  (:func:`sgdnoise.gradients.collect_noise`). Entries whose noise is mostly one exact value (a weight
  behind a dead ReLU) are flagged ``degenerate`` and get no fit (NaN), and α at the estimator's
  lower bound 0.5 is flagged ``at_bound`` (a bound, not a measured tail index).
* a skewed-stable fit S(α, β, σ, μ; 0) of the same rows (:func:`sgdnoise.stable.fit_stable`, the
  law of the GD + skewed-stable model); with ``keep_noise`` also the rows themselves ``(K, P)``
  (the full-Σ Gaussian model draws from them; dropped from the study's result);
* the variance of the same noise sample (what a Gaussian model of SGN uses);
* the noise-covariance row sums ``(Σ·1)_l`` (eq. 2, batches without replacement) by the covariance
  operator on per-sample gradients — ``(N, P)`` numbers, no ``P × P`` matrix — and the same by
  Prop. 3.4's function (:func:`sgdnoise.theory.battash_covariance_row_sums`), a check;
* the Hessian diagonal ``h_ll`` of the full-data loss (exact for up to ``EXACT_HESSIAN_MAX``
  parameters, Hutchinson with standard errors above);
* the basin half-widths ``d_l^± `` at the escape level, by one batched line search over all
  coordinates (:func:`sgdnoise.dynamics.basin_half_widths`; for a plain MLP the displaced losses come
  from :class:`~sgdnoise.dynamics.networks.displaced_loss.DisplacedLoss`), started from ``½√(2Δ/h_ll)``, the
  quadratic guess. Open sides (the loss never reaches the level within ``cap``) are ``±inf`` and
  flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sgdnoise.curvature import HessianOperator, diagonal, noise_covariance, per_sample_gradients
from sgdnoise.dynamics import BasinWidths, basin_half_widths
from sgdnoise.dynamics.networks.displaced_loss import DisplacedLoss
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise
from sgdnoise.plumbing import LossFn, evaluation_mode, positive_int
from sgdnoise.stable import fit_sas, fit_stable
from sgdnoise.theory import battash_covariance_row_sums

EXACT_HESSIAN_MAX = 4096
ROW_SUM_MAX_VALUES = 50_000_000  # N·P per-sample gradient values held for Σ·1
ALPHA_LOWER_BOUND = 0.5  # fit_sas's α range is [0.5, 2]


@dataclass(frozen=True)
class EscapeInputs:
    """Per-parameter ``(P,)`` NumPy arrays measured at the minimum, and the escape level.

    alpha, scale, loc : SαS fit of each parameter's noise (NaN where ``degenerate``).
    stable_alpha, stable_beta, stable_scale, stable_loc : the skewed-stable (S0) fit of the same noise.
    noise : the ``(K, P)`` noise samples when kept (``keep_noise``), else None.
    degenerate, at_bound : bool flags (see the module docstring). variance : noise variance.
    row_sums : ``(Σ·1)_l`` by the covariance operator (NaN if not computed); row_sums_prop34 : the
        same by Prop. 3.4's function. hessian_diag, hessian_stderr : ``h_ll`` and its standard error
        (0 when exact). basin : the half-widths (``basin.lower`` < 0 < ``basin.upper``, ±inf open).
    min_loss, level : ``L(w*)`` and the escape level. labels : ``"name[flat index]"`` per parameter.
    """

    alpha: np.ndarray
    scale: np.ndarray
    loc: np.ndarray
    degenerate: np.ndarray
    at_bound: np.ndarray
    variance: np.ndarray
    row_sums: np.ndarray
    row_sums_prop34: np.ndarray
    hessian_diag: np.ndarray
    hessian_stderr: np.ndarray
    hessian_method: str
    basin: BasinWidths
    min_loss: float
    level: float
    batch_size: int
    num_batches: int
    fit_method: str
    labels: list[str] = field(repr=False)
    stable_alpha: np.ndarray | None = None
    stable_beta: np.ndarray | None = None
    stable_scale: np.ndarray | None = None
    stable_loc: np.ndarray | None = None
    noise: np.ndarray | None = field(default=None, repr=False)

    @property
    def lower(self) -> np.ndarray:
        return self.basin.lower

    @property
    def upper(self) -> np.ndarray:
        return self.basin.upper

    @property
    def dim(self) -> int:
        return len(self.alpha)

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter."""
        return pd.DataFrame(
            {
                "parameter": self.labels,
                "alpha": self.alpha,
                "scale": self.scale,
                "loc": self.loc,
                "degenerate": self.degenerate,
                "alpha_at_bound": self.at_bound,
                "variance": self.variance,
                "row_sum": self.row_sums,
                "row_sum_prop34": self.row_sums_prop34,
                "hessian_diag": self.hessian_diag,
                "hessian_stderr": self.hessian_stderr,
                **(
                    {}
                    if self.stable_beta is None
                    else {
                        "stable_alpha": self.stable_alpha,
                        "stable_beta": self.stable_beta,
                        "stable_scale": self.stable_scale,
                        "stable_loc": self.stable_loc,
                    }
                ),
                "basin_lower": self.basin.lower,
                "basin_upper": self.basin.upper,
                "open_lower": self.basin.open_lower,
                "open_upper": self.basin.open_upper,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "min_loss": self.min_loss,
            "level": self.level,
            "batch_size": self.batch_size,
            "num_batches": self.num_batches,
            "fit_method": self.fit_method,
            "hessian_method": self.hessian_method,
            "n_degenerate": int(self.degenerate.sum()),
            "n_alpha_at_bound": int(self.at_bound.sum()),
            "row_sums_max_abs_difference_prop34": float(np.nanmax(np.abs(self.row_sums - self.row_sums_prop34)))
            if np.isfinite(self.row_sums).any()
            else None,
            "basin": self.basin.to_dict(),
        }


def check_all_trainable(model: nn.Module) -> int:
    """The number P of parameters; raises unless every parameter is trainable (the flat vector
    is ``parameters_to_vector(model.parameters())``)."""
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    if frozen:
        raise InvalidInputError(
            f"every parameter must be trainable (requires_grad) so that the flat vector is parameters_to_vector; "
            f"frozen: {frozen[:5]}"
        )
    return sum(p.numel() for p in model.parameters())


def measure_escape_inputs(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    level: float,
    num_batches: int = 1000,
    seed: int = 0,
    cap: float = 64.0,
    fit_method: str = "cf",
    chunk_rows: int = 256,
    stable: bool = True,
    keep_noise: bool = False,
) -> EscapeInputs:
    """Measure every input of the theory at the model's current weights (its minimum).

    ``x, y``: the whole training set as tensors on the model's device; ``level`` the escape level
    (above the loss at the minimum). See the module docstring for what is measured and how.
    ``stable``: also the skewed-stable fit; ``keep_noise``: also the ``(K, P)`` noise samples.
    """
    dim = check_all_trainable(model)
    positive_int(num_batches, "num_batches", minimum=20)
    with evaluation_mode(model):
        stacked = StackedLoss(model, loss_fn, x, y)
        center = stacked.start
        min_loss = float(stacked.losses(center[None])[0])
        noise = collect_noise(model, loss_fn, (x, y), batch_size=batch_size, num_batches=num_batches, seed=seed)
        rows, labels = noise.noise_matrix()
        if rows.shape[0] != dim:
            raise InvalidInputError(f"the noise has {rows.shape[0]} rows for {dim} parameters; report this as a bug")
        fit = fit_sas(rows, method=fit_method)
        skew = fit_stable(rows, method=fit_method) if stable else None
        variance = rows.var(1, correction=0)
        row_sums = row_sums_p34 = torch.full((dim,), float("nan"), dtype=torch.float64)
        if len(x) * dim <= ROW_SUM_MAX_VALUES:
            g = per_sample_gradients(model, loss_fn, (x, y)).double()
            row_sums = noise_covariance(g, batch_size, without_replacement=True).matvec(
                torch.ones(dim, dtype=g.dtype, device=g.device)
            )
            row_sums_p34 = battash_covariance_row_sums(g, batch_size, without_replacement=True)
        op = HessianOperator(model, loss_fn, (x, y))
        hess = diagonal(op, method="exact" if dim <= EXACT_HESSIAN_MAX else "hutchinson", seed=seed)
        h = hess.estimate.detach().double().cpu()
        delta = level - min_loss
        guess = torch.where(h > 0, 0.5 * torch.sqrt(2 * delta / h.clamp(min=1e-300)), torch.full_like(h, 1e-2))
        initial = guess.clamp(min=cap * 1e-9, max=cap).nan_to_num(1e-2)
        basin = basin_half_widths(
            lambda r: stacked.losses(r, chunk_rows=chunk_rows),
            center,
            level,
            initial=initial,
            cap=cap,
            displaced=DisplacedLoss.of(model, loss_fn, x, y),
        )

    def arr(t: Any) -> np.ndarray:
        return np.asarray(t.detach().cpu().double() if isinstance(t, torch.Tensor) else t, dtype=float)

    alpha = arr(fit.alpha)
    return EscapeInputs(
        alpha=alpha,
        scale=arr(fit.scale),
        loc=arr(fit.loc),
        degenerate=np.asarray(fit.degenerate.cpu() if isinstance(fit.degenerate, torch.Tensor) else fit.degenerate),
        at_bound=np.nan_to_num(alpha, nan=math.inf) <= ALPHA_LOWER_BOUND + 1e-9,
        variance=arr(variance),
        row_sums=arr(row_sums),
        row_sums_prop34=arr(row_sums_p34),
        hessian_diag=arr(h),
        hessian_stderr=arr(hess.stderr),
        hessian_method=hess.method,
        basin=basin,
        min_loss=min_loss,
        level=float(level),
        batch_size=batch_size,
        num_batches=num_batches,
        fit_method=fit_method,
        labels=labels,
        stable_alpha=None if skew is None else arr(skew.alpha),
        stable_beta=None if skew is None else arr(skew.beta),
        stable_scale=None if skew is None else arr(skew.scale),
        stable_loc=None if skew is None else arr(skew.loc),
        noise=arr(rows).T.copy() if keep_noise else None,
    )
