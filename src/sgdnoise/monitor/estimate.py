"""One measurement of the gradient noise at the current weights: per sampled entry α, scale, β;
per layer their medians and the noise scale; optionally the top Hessian eigenvalue.

Estimator. K extra mini-batches ``Ω_1 … Ω_K`` of B points, drawn uniformly without replacement
from the training data with the monitor's own generator, and their exact gradients at the
current weights ``w_t`` from :func:`sgdnoise.gradients.collect_noise` (papers.md §1 eq. 1, the
measurement of Battash et al. and Xie et al. taken at ``w_t`` instead of a trained ``w``). Each
sampled entry's K values are fitted by :func:`sgdnoise.stable.fit_sas` (α, scale) and
:func:`sgdnoise.stable.fit_stable` (α, β); a layer reports the median over its fitted entries.

What it measures, and its bias:

- The noise of the weights *after* step t, in **eval mode** (BatchNorm on its running statistics,
  dropout off), as in every sgdnoise measurement: the noise of a training step in train mode also
  carries dropout's noise and BatchNorm's coupling of the samples of a batch, which this leaves out.
- Not the training loop's own mini-batches: K fresh ones at the same ``w_t``, so the K values are
  i.i.d. draws of the noise at ``w_t`` — the loop's own gradients would be K draws at K different
  weights, their spread mixing the noise with the drift of training.
- By default no full-data gradient: ``u_k = ∇U − g_k`` and ``ḡ − g_k`` differ by a constant per
  entry, and the fitted α, scale and β do not depend on the location (equal to float rounding),
  so the K batches are centred on their mean. ``exact_gradient=True`` computes ``∇U`` (one pass
  over the data) instead; it only changes the noise scale's ``‖G‖²`` (:mod:`.noise_scale`).
- Finite K: each entry's α has the spread of a K-sample fit (about 0.1–0.2 at K = 64 for α near
  1.5–2; :mod:`sgdnoise.stable`), and fits pile up at α = 2 for near-Gaussian entries; the
  per-layer median over the sampled entries averages most of that spread away, not its bias.
  Degenerate entries (one value in more than 20% of the batches, e.g. behind a dead ReLU) are
  counted, not fitted; entries at the lower fit bound α = 0.5 are counted and left out of the
  medians (a bound is no tail index).

Cost: K·B sample gradients (fewer forward passes when the ``entries`` engine serves points drawn
twice once), one pass over the data with ``exact_gradient``, two fits of ``n_entries`` rows of K,
and with ``hessian`` the Lanczos iterations (about 20–40 Hessian-vector products) on
``hessian_points`` points — i.e. about ``K·B / B_train`` training steps plus the fits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise
from sgdnoise.monitor.noise_scale import simple_noise_scale
from sgdnoise.plumbing import LossFn, as_indexed_source, evaluation_mode, trainable_parameters
from sgdnoise.stable import fit_sas, fit_stable

ALPHA_LOWER_BOUND = 0.5

#: Columns of :attr:`NoiseSnapshot.layers`, one row per parameter tensor.
LAYER_COLUMNS = (
    "layer",
    "n_entries",
    "n_degenerate",
    "n_lower_bound",
    "alpha",
    "alpha_q25",
    "alpha_q75",
    "scale",
    "beta",
    "alpha_skewed",
    "b_simple_layer",
    "trace_sigma_layer",
    "grad_norm_sq_layer",
)

#: Columns of :attr:`NoiseSnapshot.entries`, one row per sampled entry.
ENTRY_COLUMNS = ("layer", "index", "alpha", "scale", "beta", "alpha_skewed", "degenerate")


@dataclass(frozen=True)
class NoiseSnapshot:
    """One measurement at fixed weights.

    layers : one row per trainable parameter tensor (:data:`LAYER_COLUMNS`): entry counts, the
        medians of α, scale (SαS fit) and β, α (skewed fit) over the fitted entries, α's
        quartiles, and the layer's noise scale terms.
    entries : one row per sampled entry (:data:`ENTRY_COLUMNS`), NaN where degenerate.
    b_simple, trace_sigma, grad_norm_sq : the whole model's ``Tr Σ₁/‖G‖²`` and its terms.
    loss : mean loss over the K mini-batches.
    top_eigenvalue, top_eigenvalue_residual : Lanczos' top Hessian eigenvalue on the monitor's
        points and its residual bound (NaN when not asked for).
    batch_indices : ``(K, B)`` the mini-batches used.
    engine : the gradient engine that ran; seconds : wall time of the measurement.
    """

    layers: pd.DataFrame
    entries: pd.DataFrame
    b_simple: float
    trace_sigma: float
    grad_norm_sq: float
    loss: float
    top_eigenvalue: float
    top_eigenvalue_residual: float
    batch_indices: torch.Tensor
    engine: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": self.layers.to_dict(orient="records"),
            "b_simple": self.b_simple,
            "trace_sigma": self.trace_sigma,
            "grad_norm_sq": self.grad_norm_sq,
            "loss": self.loss,
            "top_eigenvalue": self.top_eigenvalue,
            "top_eigenvalue_residual": self.top_eigenvalue_residual,
            "engine": self.engine,
            "seconds": self.seconds,
        }

    def to_frame(self) -> pd.DataFrame:
        """The per-layer rows with the model-wide values as extra columns."""
        keys = ("b_simple", "trace_sigma", "grad_norm_sq", "loss", "top_eigenvalue", "top_eigenvalue_residual")
        n = len(self.layers)
        columns = {c: self.layers[c].to_numpy() for c in self.layers.columns}
        columns |= {key: np.full(n, getattr(self, key), dtype=np.float64) for key in keys}
        columns |= {"engine": [self.engine] * n, "seconds": np.full(n, self.seconds)}
        return pd.DataFrame(columns)


def measure_noise(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    batch_size: int,
    num_batches: int,
    entries: int,
    generator: torch.Generator,
    exact_gradient: bool = False,
    hessian: bool = False,
    hessian_points: int = 256,
    laws: bool = False,
    method: str = "auto",
) -> NoiseSnapshot:
    """Measure the noise of ``model`` at its current weights (module docstring).

    data : ``(X, y)`` tensors, a map-style Dataset or a DataLoader over one (points by index).
    batch_size, num_batches : ``B`` and ``K`` (``K ≥ 20``, the fits' minimum).
    entries : sampled entries per parameter tensor (all of a smaller tensor).
    generator : draws the mini-batches, the entries and the Lanczos start; nothing else is drawn,
        the global torch generator is left as it was, and every module gets its mode back.
    laws : also which law fits each entry best (:func:`sgdnoise.stable.compare_laws` with the
        ``cf`` estimator: Gaussian, SαS, skewed stable, Student-t, two-Gaussian mixture by AIC,
        after the entry classes): per entry ``class`` and ``law``, per layer the share each law
        wins (``wins_<law>``) and the most frequent winner (``law``). Costs far more than the
        rest of a measurement (the Student-t and mixture fits).

    Raises :class:`InvalidInputError` for ``K < 20`` or ``B`` not below the number of points.
    """
    if num_batches < 20:
        raise InvalidInputError(f"the monitor fits K values per entry and needs K ≥ 20 mini-batches; got {num_batches}")
    started = time.perf_counter()
    source = as_indexed_source(data)
    if not 1 <= batch_size < source.size:
        raise InvalidInputError(
            f"the monitor's batch size must be below the {source.size} training points; got {batch_size}"
        )
    named = trainable_parameters(model)
    if not named:
        raise InvalidInputError("the model has no trainable parameters (requires_grad=True)")
    device = next(iter(named.values())).device
    with (
        torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
        evaluation_mode(model),
        torch.enable_grad(),
    ):
        zeros = None if exact_gradient else {n: torch.zeros_like(p) for n, p in named.items()}
        res = collect_noise(
            model,
            loss_fn,
            data,
            batch_size=batch_size,
            num_batches=num_batches,
            seed=generator,
            params=entries,
            method=method,
            full_grad=zeros,
        )
        top, residual = _top_eigenvalue(model, loss_fn, source, res.batch_indices, hessian_points, generator, hessian)
    layers, entry_rows, totals = _summarise(res, named, exact_gradient, laws)
    return NoiseSnapshot(
        layers=layers,
        entries=entry_rows,
        b_simple=totals[0],
        trace_sigma=totals[1],
        grad_norm_sq=totals[2],
        loss=float(res.losses.mean()),
        top_eigenvalue=top,
        top_eigenvalue_residual=residual,
        batch_indices=res.batch_indices,
        engine=res.method,
        seconds=time.perf_counter() - started,
    )


def _summarise(res, named: dict[str, torch.Tensor], exact_gradient: bool, laws: bool = False):
    """Per-entry fits, per-layer medians and noise scales, model totals."""
    samples, _ = res.noise_matrix()  # (n_entries, K)
    samples = samples - samples.mean(1, keepdim=True)  # location-free: see the module docstring
    sas = fit_sas(samples)
    skewed = fit_stable(samples)
    names = res.selection.names
    counts = torch.tensor([res.selection.count(n) for n in names])
    layer_of = np.repeat(np.arange(len(names)), counts.numpy())
    alpha = sas.alpha.double().cpu().numpy()
    scale = sas.scale.double().cpu().numpy()
    beta = skewed.beta.double().cpu().numpy()
    alpha_skewed = skewed.alpha.double().cpu().numpy()
    degenerate = sas.degenerate.cpu().numpy().astype(bool)
    index = np.concatenate([res.selection.flat_indices(n).numpy() for n in names])
    entry_rows = pd.DataFrame(
        {
            "layer": np.asarray(names, dtype=object)[layer_of],
            "index": index.astype(np.int64),
            "alpha": alpha,
            "scale": scale,
            "beta": beta,
            "alpha_skewed": alpha_skewed,
            "degenerate": degenerate,
        },
        columns=list(ENTRY_COLUMNS),
    )
    at_bound = ~degenerate & (alpha <= ALPHA_LOWER_BOUND + 1e-6)
    fitted = ~degenerate & ~at_bound

    stats = res.stats
    if stats.scope == "all":
        mean_grad = {n: res.full_grad[n].double().cpu() - stats.mean[n].double() for n in names}
        var_sum = torch.stack([stats.var[n].sum() for n in names])
        mean_sq = torch.stack([mean_grad[n].square().sum() for n in names])
        exact = torch.stack([res.full_grad[n].double().square().sum().cpu() for n in names]) if exact_gradient else None
        b_layer, tr_layer, g2_layer = simple_noise_scale(
            var_sum,
            mean_sq,
            batch_size=res.batch_size,
            num_batches=res.num_batches,
            num_points=res.num_points,
            exact_norm_sq=exact,
        )
        b_all, tr_all, g2_all = simple_noise_scale(
            var_sum.sum()[None],
            mean_sq.sum()[None],
            batch_size=res.batch_size,
            num_batches=res.num_batches,
            num_points=res.num_points,
            exact_norm_sq=None if exact is None else exact.sum()[None],
        )
        totals = (float(b_all[0]), float(tr_all[0]), float(g2_all[0]))
    else:  # an engine that computed the selected entries only: no trace over the layers
        b_layer = tr_layer = g2_layer = torch.full((len(names),), torch.nan, dtype=torch.float64)
        totals = (float("nan"),) * 3

    def median(values: np.ndarray, q: float = 0.5) -> np.ndarray:
        out = np.full(len(names), np.nan)
        for i in range(len(names)):
            keep = fitted & (layer_of == i)
            if keep.any():
                out[i] = np.quantile(values[keep], q)
        return out

    layers = pd.DataFrame(
        {
            "layer": names,
            "n_entries": counts.numpy().astype(np.int64),
            "n_degenerate": np.bincount(layer_of, weights=degenerate, minlength=len(names)).astype(np.int64),
            "n_lower_bound": np.bincount(layer_of, weights=at_bound, minlength=len(names)).astype(np.int64),
            "alpha": median(alpha),
            "alpha_q25": median(alpha, 0.25),
            "alpha_q75": median(alpha, 0.75),
            "scale": median(scale),
            "beta": median(beta),
            "alpha_skewed": median(alpha_skewed),
            "b_simple_layer": b_layer.numpy(),
            "trace_sigma_layer": tr_layer.numpy(),
            "grad_norm_sq_layer": g2_layer.numpy(),
        },
        columns=list(LAYER_COLUMNS),
    )
    if laws:
        layers, entry_rows = _laws(samples, layers, entry_rows)
    return layers, entry_rows, totals


def _laws(samples: torch.Tensor, layers: pd.DataFrame, entry_rows: pd.DataFrame):
    """The law comparison's columns: per entry ``class`` and ``law`` (best by AIC, ``None`` for a
    degenerate entry), per layer ``law`` (the most frequent winner) and ``wins_<law>``."""
    from sgdnoise.stable import compare_laws, law_wins_by

    compared = compare_laws(samples, method="cf").assign(layer=entry_rows["layer"].to_numpy())
    entry_rows = entry_rows.assign(
        entry_class=compared["class"].astype(str).to_numpy(),
        law=[w if isinstance(w, str) and w else None for w in compared["best_aic"]],
    )
    wins = law_wins_by(compared, "layer").set_index("layer").reindex(layers["layer"])
    columns = [c for c in wins.columns if c.startswith("wins_")]
    shares = wins[columns].to_numpy(dtype=float)
    best = [columns[int(np.nanargmax(row))].removeprefix("wins_") if np.isfinite(row).any() else None for row in shares]
    layers = layers.assign(law=best, **{c: wins[c].to_numpy(dtype=float) for c in columns})
    return layers, entry_rows


def _top_eigenvalue(model, loss_fn, source, batch_indices, points, generator, wanted) -> tuple[float, float]:
    """Lanczos' top Hessian eigenvalue of the mean loss over the first ``points`` distinct points
    of the monitor's mini-batches, and its residual bound; NaN, NaN when not ``wanted``."""
    if not wanted:
        return float("nan"), float("nan")
    from sgdnoise.curvature import hessian_eigenvalues

    flat = batch_indices.flatten()
    _, first = np.unique(flat.numpy(), return_index=True)
    idx = flat[np.sort(first)[:points]]
    x, y = source.take(idx)
    device = next(model.parameters()).device
    top = hessian_eigenvalues(model, loss_fn, (x.to(device), y.to(device)), k=1, seed=generator, strict=False)
    return float(top.eigenvalues[0]), float(top.residuals[0])
