"""The recipes' figures, one function each: noise histograms with both fitted densities (Battash et
al. Fig. 1), α per layer (Fig. 5), step noise before and after a milestone (Fig. 2), exit shares
(Fig. 6), escape times and survival (Figs. 3–4), the Hessian spectrum and the noise along its top
eigenvectors, Zhu et al.'s variants on a network, and the noise monitor's α per layer over training
beside the learning-rate schedule.

matplotlib is imported lazily with the non-interactive Agg backend; every function writes a PNG
and an SVG beside it atomically and returns the PNG's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sgdnoise.stable import sas_pdf
from sgdnoise.stable.goodness import HIST_RANGE
from sgdnoise.store import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    """Write ``fig`` as the PNG ``path`` and as an SVG beside it (same stem), both atomically."""
    path = Path(path)
    with atomic_path(path.with_suffix(".svg")) as tmp:
        fig.savefig(tmp, format="svg", bbox_inches="tight")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def noise_histograms(
    samples: np.ndarray, frame: pd.DataFrame, path: str | Path, rows: Sequence[int] | None = None, bins: int = 60
) -> Path:
    """Histograms of a few samples (rows of ``samples``) with the fitted Gaussian and SαS densities.

    ``frame`` is the :func:`sgdnoise.stable.compare_fits` output for ``samples``; by default the
    six non-degenerate rows with the smallest, median and largest α are shown. The x-range is the
    [0.5%, 99.5%] quantile range used for the SSE.
    """
    plt = _pyplot()
    ok = np.flatnonzero(~frame["degenerate"].to_numpy(bool))
    if rows is None:
        order = ok[np.argsort(frame["alpha"].to_numpy()[ok])]
        picks = (
            np.unique(np.r_[order[:2], order[len(order) // 2 - 1 : len(order) // 2 + 1], order[-2:]])
            if len(order)
            else []
        )
        rows = [int(i) for i in picks]
    n = max(1, len(rows))
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.8), squeeze=False)
    for ax, i in zip(axes[0], rows):
        r = frame.iloc[i]
        x = samples[i]
        lo, hi = np.quantile(x, HIST_RANGE)
        ax.hist(x, bins=bins, range=(lo, hi), density=True, color="0.8", label="noise")
        grid = np.linspace(lo, hi, 400)
        gauss = np.exp(-0.5 * ((grid - r["gauss_loc"]) / r["gauss_std"]) ** 2) / (r["gauss_std"] * np.sqrt(2 * np.pi))
        ax.plot(grid, gauss, "C0--", lw=1.2, label="Gaussian")
        ax.plot(grid, sas_pdf(grid, r["alpha"], r["scale"], r["loc"]), "C3", lw=1.2, label=f"SαS α={r['alpha']:.2f}")
        ax.set_title(str(r["name"]), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    return _save(fig, path)


def alpha_by_layer(frame: pd.DataFrame, path: str | Path, layer_column: str = "layer") -> Path:
    """Box plot of the fitted α of each layer's sampled parameters (degenerate ones left out)."""
    plt = _pyplot()
    ok = frame[~frame["degenerate"].astype(bool)]
    layers = list(dict.fromkeys(ok[layer_column]))
    data = [ok.loc[ok[layer_column] == name, "alpha"].to_numpy() for name in layers]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(layers)), 3.2))
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(layers) + 1), layers, rotation=45, ha="right", fontsize=7)
    ax.axhline(2.0, color="0.5", lw=0.8, ls=":")
    ax.set_ylabel("α (SαS fit)")
    ax.set_title("Tail index of the gradient noise per layer", fontsize=9)
    return _save(fig, path)


def spectral_density(
    grid: np.ndarray, density: np.ndarray, path: str | Path, eigenvalues: Sequence[float] = ()
) -> Path:
    """Hessian spectral density (stochastic Lanczos quadrature) on a log scale, top eigenvalues marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    ax.semilogy(grid, np.maximum(density, 1e-12), color="C0", lw=1.2)
    for lam in eigenvalues:
        ax.axvline(lam, color="C3", lw=0.6, alpha=0.6)
    ax.set_xlabel("eigenvalue λ")
    ax.set_ylabel("spectral density")
    ax.set_title("Hessian spectrum (SLQ); red: top eigenvalues (Lanczos)", fontsize=9)
    return _save(fig, path)


def directional_alignment(
    eigenvalues: Sequence[float], noise_along: Sequence[float], loss: float, path: str | Path
) -> Path:
    """Noise variance ``v_iᵀΣ₁v_i`` along each top Hessian eigenvector against ``λ_i``.

    The dashed line is ``2L·λ``: where the points lie on it, the noise along ``v_i`` is what
    Wang & Wu's alignment ``g(θ, v) = vᵀΣ₁v/(2L·vᵀGv) = 1`` predicts (with G ≈ H near a minimum).
    """
    plt = _pyplot()
    lam = np.asarray(eigenvalues, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    ax.loglog(lam, np.asarray(noise_along, dtype=float), "o", color="C3", label="v_iᵀΣ₁v_i")
    line = np.array([lam[lam > 0].min(), lam.max()]) if np.any(lam > 0) else np.array([1e-3, 1.0])
    ax.loglog(line, 2 * loss * line, "--", color="0.4", label="2L·λ (g = 1)")
    ax.set_xlabel("Hessian eigenvalue λ_i")
    ax.set_ylabel("noise variance along v_i")
    ax.legend(fontsize=7)
    ax.set_title("Noise along the top eigen-directions", fontsize=9)
    return _save(fig, path)


def step_noise_histograms(step_noise: dict[str, np.ndarray], path: str | Path, bins: int = 60) -> Path:
    """One panel per schedule: histograms of the step noise ``η_t·u`` of one entry before and after
    the milestone (keys ``"schedule/stage"``), on a common range per panel (Battash et al. Fig. 2)."""
    plt = _pyplot()
    schedules = list(dict.fromkeys(key.split("/")[0] for key in step_noise))
    fig, axes = plt.subplots(1, len(schedules), figsize=(3.4 * len(schedules), 2.8), squeeze=False)
    for ax, schedule in zip(axes[0], schedules):
        runs = {key.split("/")[1]: v for key, v in step_noise.items() if key.startswith(schedule + "/")}
        lo, hi = np.quantile(np.concatenate(list(runs.values())), HIST_RANGE)
        for (stage, values), colour in zip(runs.items(), ("C0", "C3", "C2")):
            ax.hist(values, bins=bins, range=(lo, hi), density=True, histtype="step", color=colour, label=stage)
        ax.set_title(schedule.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("density of η·u")
    return _save(fig, path)


def exit_share_plot(table: pd.DataFrame, path: str | Path) -> Path:
    """P(exit via x1) against Δ = α_2 − α_1 with binomial error bars (Battash et al. Fig. 6)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    ax.errorbar(table["delta"], table["p_exit_x1"], yerr=2 * table["stderr"], fmt="o-", color="C3", capsize=3)
    ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("Δ = α₂ − α₁")
    ax.set_ylabel("P(exit via x₁)")
    ax.set_title("Escape axis on 2-D Ackley (±2 s.e.)", fontsize=9)
    return _save(fig, path)


def escape_time_plot(
    times: pd.DataFrame, predictions: dict[str, np.ndarray], survival: pd.DataFrame, path: str | Path
) -> Path:
    """Left: mean escape time against the learning rate with fitted theories (Battash et al. Fig. 3);
    right: survival ``P(σ > u)`` for several batch sizes (Fig. 4)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.2))
    left.plot(times["lr"], times["mean_steps_exponential_mle"], "ko", label="measured τ")
    for (name, tau), style in zip(predictions.items(), ("C3-", "C0--", "C2:")):
        left.plot(times["lr"], tau, style, label=name)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("learning rate η")
    left.set_ylabel("mean escape time (steps)")
    left.legend(fontsize=7)
    for batch, part in survival.groupby("batch_size"):
        right.semilogx(part["u"], part["survival"], label=f"B = {batch}")
    right.set_xlabel("steps u")
    right.set_ylabel("P(σ > u)")
    right.legend(fontsize=7)
    fig.suptitle("Escape from a minimum of an MLP", fontsize=9)
    return _save(fig, path)


def escape_model_plot(
    parameters: pd.DataFrame, survival: pd.DataFrame, comparison: pd.DataFrame, path: str | Path
) -> Path:
    """Issue 15's three panels: survival ``P(σ > u)`` of SGD and both noise models with the Lévy law
    and Cor. 4.6's bound; predicted against observed exit probability per parameter (calibration);
    observed exit share of SGD and the prediction by α quantile bin."""
    plt = _pyplot()
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(12.0, 3.4))
    for name, style in (
        ("sgd", "k-"),
        ("levy", "C3--"),
        ("gauss", "C0-."),
        ("stable", "C2--"),
        ("gauss_full", "C4-."),
        ("levy_theory", "C3:"),
    ):
        if name in survival:
            left.semilogx(survival["u"], survival[name], style, label=name.replace("_", " "))
    if "cor46_bound" in survival and np.isfinite(survival["cor46_bound"]).any():
        left.semilogx(survival["u"], survival["cor46_bound"], color="0.6", lw=0.8, label="Cor. 4.6 bound")
    left.set_ylim(-0.02, 1.05)
    left.set_xlabel("steps u")
    left.set_ylabel("P(σ > u)")
    left.legend(fontsize=7)
    n_sgd = max(1, int(parameters["exits_sgd"].sum()))
    for name, marker in (("sgd", "ko"), ("levy", "C3^"), ("gauss", "C0s")):
        col = f"exits_{name}"
        if col in parameters:
            total = max(1, int(parameters[col].sum()))
            mid.loglog(parameters["exit_prob_predicted"], parameters[col] / total, marker, ms=3, alpha=0.6, label=name)
    lim = [1.0 / (10 * n_sgd), 1.0]
    mid.plot(lim, lim, color="0.6", lw=0.8)
    mid.set_xlabel("predicted P(exit via l)")
    mid.set_ylabel("observed share of exits")
    mid.legend(fontsize=7)
    elig = parameters[parameters["eligible"]]
    if len(elig) >= 2:
        bins = pd.qcut(elig["alpha"], q=min(5, elig["alpha"].nunique()), duplicates="drop")
        grouped = elig.groupby(bins, observed=True)
        centers = grouped["alpha"].mean()
        right.plot(centers, grouped["exits_sgd"].sum() / n_sgd, "ko-", label="SGD observed")
        right.plot(centers, grouped["exit_prob_predicted"].sum(), "C3s--", label="Lévy predicted")
    sgd_row = comparison[comparison["model"] == "sgd"]
    if len(sgd_row):
        r = sgd_row.iloc[0]
        ci = f"[{r['spearman_ci_low']:.2f}, {r['spearman_ci_high']:.2f}]"
        right.set_title(f"Spearman(α, exits) = {r['spearman_alpha_exits']:.2f} {ci}", fontsize=8)
    right.set_xlabel("α (quantile bin mean)")
    right.set_ylabel("share of exits")
    right.legend(fontsize=7)
    fig.suptitle("Escape through parameters: SGD, Lévy and Gaussian models", fontsize=9)
    return _save(fig, path)


def zhu_network_plot(table: pd.DataFrame, path: str | Path) -> Path:
    """Test accuracy (left) and distance from the start (right) per noise variant, one bar group
    per noise protocol, ±2 standard errors over repeats (Zhu et al. on a network)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    protocols = list(dict.fromkeys(table["match_at"]))
    variants = list(dict.fromkeys(table["variant"]))
    width = 0.8 / len(protocols)
    for ax, column, label in ((axes[0], "test_accuracy", "test accuracy"), (axes[1], "distance", "‖w − w₀‖")):
        for j, protocol in enumerate(protocols):
            part = table[table["match_at"] == protocol].set_index("variant").reindex(variants)
            ax.bar(
                np.arange(len(variants)) + (j - (len(protocols) - 1) / 2) * width,
                part[column],
                width,
                yerr=2 * part[f"{column}_stderr"],
                capsize=2,
                label=f"variance: {protocol}",
            )
        ax.set_xticks(np.arange(len(variants)), variants, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    fig.suptitle("From a memorising GD minimum: SGD vs GD + shaped noise (±2 s.e.)", fontsize=9)
    return _save(fig, path)


def alpha_against_batch_size(layers: pd.DataFrame, path: str | Path) -> Path:
    """α against the mini-batch size B, one panel per set of weights (trained, initial): per layer
    the median α over its entries with its bootstrap band, and below it the share of entries where
    the Gaussian beats SαS on AIC. ``layers`` is
    :func:`sgdnoise.experiments.alpha_vs_batch.alpha_against_batch`'s per-layer table."""
    plt = _pyplot()
    states = list(dict.fromkeys(layers["weights"]))
    fig, axes = plt.subplots(2, len(states), figsize=(4.2 * len(states), 5.0), sharex=True, squeeze=False)
    for col, state in enumerate(states):
        top, bottom = axes[0, col], axes[1, col]
        for layer, group in layers[layers["weights"] == state].groupby("layer", sort=False):
            group = group.sort_values("batch_size")
            (line,) = top.plot(group["batch_size"], group["alpha_median"], marker="o", ms=3, lw=1, label=layer)
            top.fill_between(
                group["batch_size"],
                group["alpha_median_lo"],
                group["alpha_median_hi"],
                color=line.get_color(),
                alpha=0.2,
            )
            bottom.plot(group["batch_size"], group["gauss_wins"], marker="o", ms=3, lw=1, color=line.get_color())
        top.axhline(2.0, color="0.5", lw=0.8, ls=":")
        top.set_title(f"{state} weights", fontsize=9)
        top.set_ylabel("median α (SαS)")
        bottom.set_ylabel("Gaussian wins (AIC)")
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_xlabel("mini-batch size B")
        bottom.set_xscale("log", base=2)
    axes[0, -1].legend(fontsize=6, loc="lower right")
    return _save(fig, path)


def alpha_over_training(
    frame: pd.DataFrame, path: str | Path, lr_steps: Sequence[int] = (), lr_values: Sequence[float] = ()
) -> Path:
    """α per layer over training (the noise monitor's ``monitor.parquet`` rows), with the learning
    rate schedule in a panel below on the same step axis.

    Each layer is a line through its median α (markers at the measured steps) with the band of its
    sampled entries' quartiles; the steps where the rate changes are dotted lines across both
    panels. ``lr_steps``/``lr_values``: the rate at each optimizer step (default: the rate logged
    at the measured steps).
    """
    plt = _pyplot()
    lr_steps = np.asarray(lr_steps if len(lr_steps) else frame["step"].drop_duplicates(), dtype=float)
    lr_values = np.asarray(
        lr_values if len(lr_values) else frame.drop_duplicates("step")["lr"], dtype=float
    )  # fmt: skip
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, layout="constrained"
    )
    for i, (layer, rows) in enumerate(frame.groupby("layer", sort=False)):
        rows = rows.sort_values("step")
        color = f"C{i % 10}"
        top.plot(rows["step"], rows["alpha"], "o-", ms=3, lw=1.2, color=color, label=str(layer))
        top.fill_between(rows["step"], rows["alpha_q25"], rows["alpha_q75"], color=color, alpha=0.12, lw=0)
    top.axhline(2.0, color="0.5", lw=0.8, ls=":")
    top.set_ylabel("α (median over entries)")
    top.set_title("Tail index of the gradient noise per layer during training", fontsize=9)
    top.legend(fontsize=6, ncol=2, loc="lower left")
    bottom.step(lr_steps, lr_values, where="post", color="0.2", lw=1.2)
    changes = lr_steps[1:][np.diff(lr_values) != 0] if len(lr_values) > 1 else []
    for step in changes:
        for ax in (top, bottom):
            ax.axvline(step, color="0.4", lw=0.8, ls=":")
    if len(lr_values) and np.all(lr_values > 0) and lr_values.max() / lr_values.min() > 5:
        bottom.set_yscale("log")
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("optimizer step")
    return _save(fig, path)
