"""Does the measured α predict how SGD escapes? Battash et al.'s Lévy framework end to end on a network (issue 15).

From a model at a minimum ``w*`` (loss ``L*``) and an escape level ``ℓ = L* + Δ`` (or ``threshold·L*``):

1. **Theory inputs** (:mod:`~sgdnoise.experiments.escape_inputs`): α_l, σ_l, the noise variance,
   ``Σ·1``, ``h_ll`` and the basin half-widths ``d_l^±`` of every parameter.
2. **Theory** (:mod:`~sgdnoise.experiments.escape_predictions`): the probability of leaving through
   each parameter, the mean escape time, Thm 4.3, Cor. 4.2/eq. 17, Cor. 4.6 and a Gaussian reference.
3. **Three dynamics from w*, on the same seeds, η and escape rule** (the full training loss reaching
   ℓ): ``"sgd"`` — plain SGD with batch size B (:func:`sgdnoise.dynamics.escape_by_level`, the
   ensemble engine); ``"levy"`` — GD + per-parameter SαS noise with the measured α_l, σ_l;
   ``"gauss"`` — GD + Gaussian noise with the measured per-parameter variances
   (:func:`sgdnoise.dynamics.noisy_gd_escape`). Degenerate parameters (no SαS fit) get no noise in
   the Lévy model. Each seed's escape step and exit parameter
   (:func:`sgdnoise.dynamics.exit_parameters`; open coordinates cannot be exits) and the share of
   the exit displacement carried by the top-ranked coordinates.
4. **Comparison** (:func:`compare_models`): per model, the KS distance of its escape-step
   distribution to SGD's (seeds that did not escape count as ``max_steps + 1``), total-variation
   distances between exit shares, the mean log-likelihood of the observed exits under the Lévy and
   the Gaussian/Kramers predictions, and the Spearman correlation between α_l and the observed exit
   frequency over eligible parameters with a bootstrap CI over seeds.

:func:`run_escape_model` is the interface with defaults; :func:`escape_model` takes an
:class:`EscapeModelConfig` with every option.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from torch import nn

from sgdnoise.dynamics import EscapeResult, ExitParameters, escape_by_level, exit_parameters, noisy_gd_escape
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.escape_inputs import EscapeInputs, measure_escape_inputs
from sgdnoise.experiments.escape_predictions import EscapePredictions, escape_predictions
from sgdnoise.plumbing import LossFn, as_data_source, default_loss, evaluation_mode, model_device, positive_int
from sgdnoise.report.figures import escape_model_plot
from sgdnoise.store import write_table

MODELS = ("sgd", "levy", "gauss")
EXTRA_MODELS = ("stable", "gauss_full")


@dataclass(frozen=True)
class EscapeModelConfig:
    """Every option of :func:`escape_model` (see :func:`run_escape_model` for the common ones).

    rho, zeta : the large-jump exponent ρ ∈ (0, 1) and the neighbourhood exponent ζ of eq. 14.
    cap : largest single-coordinate displacement of the basin search. fit_method : SαS estimator.
    top_k : the top-k shares of the exit displacement. n_bootstrap : resamples for the Spearman CI.
    progress : progress bars. network : where the minimum came from (recorded in the manifest).
    extra_models : noise models run beside the three of the interface: ``"stable"`` (GD + skewed
    stable, the S0 fit of each parameter) and ``"gauss_full"`` (GD + Gaussian with the full noise
    covariance of the K samples).
    """

    lr: float
    batch_size: int
    delta_loss: float | None = None
    threshold: float = 2.0
    num_batches: int = 1000
    n_seeds: int = 256
    max_steps: int = 5000
    seed: int = 0
    rho: float = 0.5
    zeta: float = 0.5
    cap: float = 64.0
    fit_method: str = "cf"
    top_k: tuple[int, ...] = (1, 5)
    n_bootstrap: int = 500
    progress: bool = False
    network: dict[str, Any] | None = None
    extra_models: tuple[str, ...] = EXTRA_MODELS

    def __post_init__(self) -> None:
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr must be a number > 0; got {self.lr!r}")
        for name in ("batch_size", "n_seeds", "max_steps", "n_bootstrap"):
            positive_int(getattr(self, name), name, error=ConfigError)
        positive_int(self.num_batches, "num_batches", minimum=20, error=ConfigError)
        positive_int(self.seed, "seed", minimum=0, error=ConfigError)
        if self.delta_loss is not None and not (self.delta_loss > 0):
            raise ConfigError(
                f"delta_loss must be > 0 (the loss increase that counts as escape); got {self.delta_loss}"
            )
        if self.delta_loss is None and not (self.threshold > 1):
            raise ConfigError(f"threshold must be > 1 (escape at threshold × the minimum's loss); got {self.threshold}")
        unknown = set(self.extra_models) - set(EXTRA_MODELS)
        if unknown:
            raise ConfigError(f"extra_models must be among {EXTRA_MODELS}; got {sorted(unknown)}")
        if not 0 < self.rho < 1:
            raise ConfigError(f"rho must lie in (0, 1); got {self.rho}")


@dataclass(frozen=True)
class EscapeModelResult:
    """The framework's numbers for one minimum. Per-parameter arrays are ``(P,)`` in
    ``parameters_to_vector`` order; per-seed arrays ``(n_seeds,)``.

    alpha, scale : the SαS fit (NaN for degenerate parameters). basin_lower, basin_upper : ``d^− < 0 <
    d^+`` (``∓inf`` open). exit_prob_predicted : the Lévy prediction, sums to 1 (0 for parameters that
    cannot be exits). exit_counts : ``{model: (P,) exits per parameter}``. escape_steps :
    ``{model: (n_seeds,) float}``, NaN for a seed that did not escape. mean_escape_predicted : the Lévy
    mean escape time in steps. comparison : one row per model (see :func:`compare_models`).
    """

    config: EscapeModelConfig
    alpha: np.ndarray
    scale: np.ndarray
    basin_lower: np.ndarray
    basin_upper: np.ndarray
    exit_prob_predicted: np.ndarray
    exit_counts: dict[str, np.ndarray]
    escape_steps: dict[str, np.ndarray]
    mean_escape_predicted: float
    inputs: EscapeInputs = field(repr=False)
    predictions: EscapePredictions = field(repr=False)
    exits: dict[str, ExitParameters] = field(repr=False)
    comparison: pd.DataFrame = field(repr=False)

    def parameters_frame(self) -> pd.DataFrame:
        """One row per parameter: the inputs, the predictions and every model's exit count."""
        frame = self.inputs.to_frame()
        pred = self.predictions
        frame["eligible"] = pred.eligible
        frame["exit_prob_predicted"] = self.exit_prob_predicted
        frame["exit_prob_eq18"] = pred.exit_prob_eq18
        frame["exit_prob_eq19"] = pred.exit_prob_eq19
        frame["exit_bound_eq18"] = pred.exit_bound_eq18
        frame["exit_bound_vacuous"] = pred.exit_bound_vacuous
        frame["kramers_exit_prob"] = pred.kramers_exit_prob
        frame["relaxation_steps"] = pred.relaxation_steps
        frame["jump_interval_steps"] = pred.jump_interval_steps
        for m, counts in self.exit_counts.items():
            frame[f"exits_{m}"] = counts
        return frame

    def seeds_frame(self) -> pd.DataFrame:
        """One row per model and seed: escape step (NaN if not escaped), exit parameter, top-k shares."""
        parts = []
        for m, steps in self.escape_steps.items():
            ex = self.exits[m]
            part = pd.DataFrame({"model": m, "seed_index": np.arange(len(steps)), "escape_step": steps})
            part["exit_parameter"] = ex.index
            part["exit_relative_displacement"] = ex.relative
            for j, k in enumerate(ex.top_k):
                part[f"top{k}_share"] = ex.top_share[:, j]
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def survival_frame(self) -> pd.DataFrame:
        """``P(σ > u)`` per model and the Lévy law and Cor. 4.6 bound on the prediction's step grid."""
        u = self.predictions.survival_steps
        u = u[u <= self.config.max_steps]
        out = {"u": u}
        for m, steps in self.escape_steps.items():
            out[m] = (np.nan_to_num(steps, nan=np.inf)[None, :] > u[:, None]).mean(1)
        out["levy_theory"] = self.predictions.survival_levy[: len(u)]
        out["cor46_bound"] = self.predictions.survival_bound[: len(u)]
        return pd.DataFrame(out)

    def summary_frame(self) -> pd.DataFrame:
        """The report's table: one row per model of ``comparison`` and a ``"theory"`` row.

        Columns: ``n_escaped``/``n_seeds``; ``median_steps`` (over all seeds, a censored seed counted
        as ``max_steps + 1``; ``inf`` when half or more did not escape) and ``mean_steps`` (the
        exponential MLE); ``ks_to_sgd``/``ks_pvalue``; ``tv_exits_to_sgd``/``tv_exits_to_predicted``;
        Spearman's ρ between α_l and exit counts with its bootstrap CI; median top-k shares. The
        theory row is the small-noise law: exponential escape time of mean ``1/Σ r_l`` (median
        ``ln 2`` times it), KS of SGD's censored steps to that law, the TV between the predicted and
        SGD's exit shares, and Spearman's ρ between α_l and the *predicted* exit probabilities (what
        the theory says the correlation is, no CI: no sampling).
        """
        cmp = self.comparison
        rows = []
        for _, c in cmp.iterrows():
            steps = np.nan_to_num(self.escape_steps[c["model"]], nan=self.config.max_steps + 1.0)
            median = float(np.median(steps)) if len(steps) else float("nan")
            row = {
                "model": c["model"],
                "n_escaped": int(c["n_escaped"]),
                "n_seeds": int(c["n_seeds"]),
                "median_steps": math.inf if median > self.config.max_steps else median,
                "mean_steps": float(c["mean_steps_mle"]),
                "ks_to_sgd": float(c["ks_to_sgd"]),
                "ks_pvalue": float(c["ks_pvalue"]),
                "tv_exits_to_sgd": float(c["tv_to_sgd"]),
                "tv_exits_to_predicted": float(c["tv_to_predicted"]),
                "spearman_alpha_exits": float(c["spearman_alpha_exits"]),
                "spearman_ci_low": float(c["spearman_ci_low"]),
                "spearman_ci_high": float(c["spearman_ci_high"]),
            }
            for col in cmp.columns:
                if col.startswith("median_top"):
                    row[col] = float(c[col])
            rows.append(row)
        mean = float(self.mean_escape_predicted)
        sgd = self.escape_steps["sgd"]
        censored = np.nan_to_num(sgd, nan=self.config.max_steps + 1.0)
        ks = stats.kstest(censored, stats.expon(scale=mean).cdf) if np.isfinite(mean) and mean > 0 else None
        eligible = self.predictions.eligible
        sgd_row = cmp[cmp["model"] == "sgd"].iloc[0]
        rows.append(
            {
                "model": "theory",
                "n_escaped": -1,
                "n_seeds": -1,
                "median_steps": mean * math.log(2.0),
                "mean_steps": mean,
                "ks_to_sgd": float(ks.statistic) if ks is not None else float("nan"),
                "ks_pvalue": float(ks.pvalue) if ks is not None else float("nan"),
                "tv_exits_to_sgd": float(sgd_row["tv_to_predicted"]),
                "tv_exits_to_predicted": 0.0,
                "spearman_alpha_exits": _spearman(self.alpha[eligible], self.exit_prob_predicted[eligible])
                if eligible.sum() > 2
                else float("nan"),
                "spearman_ci_low": float("nan"),
                "spearman_ci_high": float("nan"),
            }
        )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_escape_predicted": self.mean_escape_predicted,
            "inputs": self.inputs.to_dict(),
            "predictions": self.predictions.to_dict(),
            "comparison": self.comparison.to_dict("records"),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        """``parameters.parquet``, ``seeds.parquet``, ``comparison.csv``, ``survival.csv``,
        ``escape_model.png`` and ``manifest.json`` in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        survival = self.survival_frame()
        return {
            "parameters": write_table(self.parameters_frame(), folder / "parameters.parquet"),
            "seeds": write_table(self.seeds_frame(), folder / "seeds.parquet"),
            "comparison": write_table(self.comparison, folder / "comparison.csv"),
            "summary": write_table(self.summary_frame(), folder / "summary.csv"),
            "survival": write_table(survival, folder / "survival.csv"),
            "figure": escape_model_plot(
                self.parameters_frame(), survival, self.comparison, folder / "escape_model.png"
            ),
            "manifest": write_manifest(self, folder),
        }


def run_escape_model(
    model: nn.Module,
    loss_fn: LossFn | None,
    data: Any,
    *,
    lr: float,
    batch_size: int,
    delta_loss: float | None = None,
    threshold: float = 2.0,
    num_batches: int = 1000,
    n_seeds: int = 256,
    max_steps: int = 5000,
    seed: int = 0,
) -> EscapeModelResult:
    """Measure, predict and simulate the escape of SGD from the minimum the model sits at.

    model : the network at its minimum (weights read, never written; run in eval mode).
    loss_fn : ``loss_fn(outputs, targets)`` → batch-mean loss; None picks the default for the
        targets (:func:`sgdnoise.plumbing.default_loss`).
    data : the training set (anything :func:`sgdnoise.plumbing.as_data_source` takes).
    lr, batch_size : SGD's η and B (also the η of the noise models and the B of the noise fits).
    delta_loss : escape when the full training loss reaches ``L* + delta_loss``; when None, when it
        reaches ``threshold × L*`` (needs ``L* > 0``).
    num_batches : K mini-batches for the noise fits. n_seeds, max_steps : seeds per model and horizon.
    seed : seeds are ``seed … seed + n_seeds − 1``; also the seed of the noise collection.
    """
    config = EscapeModelConfig(
        lr=lr,
        batch_size=batch_size,
        delta_loss=delta_loss,
        threshold=threshold,
        num_batches=num_batches,
        n_seeds=n_seeds,
        max_steps=max_steps,
        seed=seed,
    )
    return escape_model(model, loss_fn, data, config)


def escape_model(model: nn.Module, loss_fn: LossFn | None, data: Any, config: EscapeModelConfig) -> EscapeModelResult:
    """:func:`run_escape_model` with every option in ``config``."""
    if not isinstance(model, nn.Module):
        raise InvalidInputError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    x, y = as_data_source(data).tensors(model_device(model))
    loss_fn = default_loss(y) if loss_fn is None else loss_fn
    with evaluation_mode(model):
        level = _level(model, loss_fn, x, y, config)
        inputs = measure_escape_inputs(
            model,
            loss_fn,
            x,
            y,
            batch_size=config.batch_size,
            level=level,
            num_batches=config.num_batches,
            seed=config.seed,
            cap=config.cap,
            fit_method=config.fit_method,
            stable="stable" in config.extra_models,
            keep_noise="gauss_full" in config.extra_models,
        )
        predictions = escape_predictions(inputs, config.lr, rho=config.rho, zeta=config.zeta)
        runs = _simulate(model, loss_fn, (x, y), inputs, config)
    inputs = dataclasses.replace(inputs, noise=None)  # (K, P) samples: used by gauss_full, not kept
    exits = {
        m: exit_parameters(r.displacement, inputs.lower, inputs.upper, r.escaped, top_k=config.top_k)
        for m, r in runs.items()
    }
    steps = {m: np.where(r.escaped, r.steps, np.nan).astype(float) for m, r in runs.items()}
    comparison = compare_models(inputs, predictions, runs, exits, n_bootstrap=config.n_bootstrap, seed=config.seed)
    return EscapeModelResult(
        config=config,
        alpha=inputs.alpha,
        scale=inputs.scale,
        basin_lower=inputs.lower,
        basin_upper=inputs.upper,
        exit_prob_predicted=predictions.exit_prob,
        exit_counts={m: e.counts for m, e in exits.items()},
        escape_steps=steps,
        mean_escape_predicted=predictions.mean_escape_steps,
        inputs=inputs,
        predictions=predictions,
        exits=exits,
        comparison=comparison,
    )


def _level(model, loss_fn, x, y, config: EscapeModelConfig) -> float:
    stacked = StackedLoss(model, loss_fn, x, y)
    min_loss = float(stacked.losses(stacked.start[None])[0])
    if config.delta_loss is not None:
        return min_loss + float(config.delta_loss)
    if not min_loss > 0:
        raise InvalidInputError(
            f"the loss at the minimum is {min_loss}: threshold × it is no escape level; pass delta_loss instead"
        )
    return float(config.threshold) * min_loss


def _simulate(model, loss_fn, data, inputs: EscapeInputs, config: EscapeModelConfig) -> dict[str, EscapeResult]:
    seeds = range(config.seed, config.seed + config.n_seeds)
    common = dict(level=inputs.level, seeds=seeds, lr=config.lr, max_steps=config.max_steps, progress=config.progress)
    fitted = np.isfinite(inputs.alpha) & np.isfinite(inputs.scale)
    alpha = np.where(fitted, inputs.alpha, 2.0)
    scale = np.where(fitted, inputs.scale, 0.0)
    runs = {
        "sgd": escape_by_level(model, loss_fn, data, batch_size=config.batch_size, **common),
        "levy": noisy_gd_escape(
            model, loss_fn, data, noise="levy", alpha=alpha, scale=scale, seed=config.seed, **common
        ),
        "gauss": noisy_gd_escape(
            model, loss_fn, data, noise="gauss", scale=np.sqrt(inputs.variance), seed=config.seed, **common
        ),
    }
    if "stable" in config.extra_models:
        ok = np.isfinite(inputs.stable_alpha) & np.isfinite(inputs.stable_scale)
        runs["stable"] = noisy_gd_escape(
            model,
            loss_fn,
            data,
            noise="stable",
            alpha=np.where(ok, inputs.stable_alpha, 2.0),
            beta=np.where(ok, inputs.stable_beta, 0.0),
            scale=np.where(ok, inputs.stable_scale, 0.0),
            loc=np.where(ok, inputs.stable_loc, 0.0),
            seed=config.seed,
            **common,
        )
    if "gauss_full" in config.extra_models:
        runs["gauss_full"] = noisy_gd_escape(
            model, loss_fn, data, noise="gauss_full", scale=1.0, factor=inputs.noise, seed=config.seed, **common
        )
    return runs


def _censored(result: EscapeResult) -> np.ndarray:
    return np.where(result.escaped, result.steps, result.max_steps + 1).astype(float)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.full(len(counts), np.nan)


def _spearman(alpha: np.ndarray, counts: np.ndarray) -> float:
    if np.ptp(counts) == 0 or np.ptp(alpha) == 0:
        return float("nan")
    return float(stats.spearmanr(alpha, counts).statistic)


def compare_models(
    inputs: EscapeInputs,
    predictions: EscapePredictions,
    runs: dict[str, EscapeResult],
    exits: dict[str, ExitParameters],
    *,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model: escapes, mean steps (exponential MLE, censored seeds included), KS
    statistic and p-value of its escape steps against SGD's, TV distance of its exit shares to the
    Lévy prediction and to SGD's, mean log-likelihood per exit under the Lévy and the Kramers
    prediction (−inf if an exit has probability 0 there), median top-k shares, and Spearman's ρ
    between α_l and exit counts over eligible parameters with a 95% bootstrap CI over seeds."""
    rng = np.random.default_rng(seed)
    eligible = predictions.eligible
    alpha = inputs.alpha[eligible]
    rows = []
    for m, res in runs.items():
        ex = exits[m]
        shares = _shares(ex.counts)
        exited = ex.index[ex.index >= 0]
        ks = stats.ks_2samp(_censored(res), _censored(runs["sgd"])) if m != "sgd" else None
        with np.errstate(divide="ignore"):
            ll_levy = float(np.log(predictions.exit_prob[exited]).mean()) if exited.size else float("nan")
            ll_kramers = float(np.log(predictions.kramers_exit_prob[exited]).mean()) if exited.size else float("nan")
        rho = _spearman(alpha, ex.counts[eligible]) if alpha.size > 2 else float("nan")
        boot = []
        if exited.size and alpha.size > 2:
            for _ in range(n_bootstrap):
                counts = np.bincount(rng.choice(exited, exited.size), minlength=inputs.dim)
                boot.append(_spearman(alpha, counts[eligible]))
        boot = np.asarray(boot, dtype=float)
        boot = boot[np.isfinite(boot)]
        row = {
            "model": m,
            "n_seeds": len(res.steps),
            "n_escaped": int(res.escaped.sum()),
            "mean_steps_mle": res.summary()["mean_steps_exponential_mle"],
            "mean_steps_predicted": predictions.mean_escape_steps,
            "ks_to_sgd": float(ks.statistic) if ks is not None else 0.0,
            "ks_pvalue": float(ks.pvalue) if ks is not None else float("nan"),
            "tv_to_predicted": 0.5 * float(np.abs(shares - predictions.exit_prob).sum()),
            "tv_to_sgd": 0.5 * float(np.abs(shares - _shares(exits["sgd"].counts)).sum()),
            "loglik_levy": ll_levy,
            "loglik_kramers": ll_kramers,
            "spearman_alpha_exits": rho,
            "spearman_ci_low": float(np.quantile(boot, 0.025)) if boot.size else float("nan"),
            "spearman_ci_high": float(np.quantile(boot, 0.975)) if boot.size else float("nan"),
        }
        for j, k in enumerate(ex.top_k):
            row[f"median_top{k}_share"] = float(np.nanmedian(ex.top_share[:, j])) if exited.size else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
