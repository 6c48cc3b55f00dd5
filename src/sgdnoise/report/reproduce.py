"""The Markdown report of ``sgdnoise reproduce``: one section per bundled recipe, each saying what
was run (from the recipe's config) and showing its tables and figures.

Figures are linked by their paths relative to the report, in the folders the recipes' results
were written to (``noise_fits/``, ``lr_decay/``, ``escape_axis/``, ``escape_time/``,
``zhu_network/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sgdnoise.report.tables import markdown_table, summary_caption
from sgdnoise.store import atomic_path

if TYPE_CHECKING:
    from sgdnoise.experiments.escape_axis import EscapeAxisResult
    from sgdnoise.experiments.escape_direction import EscapeDirectionResult
    from sgdnoise.experiments.escape_time import EscapeTimeResult
    from sgdnoise.experiments.estimator_recovery import RecoveryResult
    from sgdnoise.experiments.lr_decay import DecayResult
    from sgdnoise.experiments.mori_stationary import MoriResult
    from sgdnoise.experiments.noise_fits import NoiseFitResult
    from sgdnoise.experiments.zhu_network import ZhuNetworkResult
    from sgdnoise.experiments.zhu_toy import ZhuResult


@dataclass(frozen=True)
class ReproduceResults:
    """The results of the bundled recipes, in the order of the report."""

    noise: NoiseFitResult
    lr_decay: DecayResult
    escape_axis: EscapeAxisResult
    escape_time: EscapeTimeResult
    escape_direction: EscapeDirectionResult
    zhu_toy: ZhuResult
    zhu_network: ZhuNetworkResult
    mori: MoriResult
    recovery: RecoveryResult


def write_reproduce_report(results: ReproduceResults, path: str | Path) -> Path:
    """Write :func:`reproduce_markdown` to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(reproduce_markdown(results))
    return path


def reproduce_markdown(results: ReproduceResults) -> str:
    """The whole report: a title, then one section per recipe."""
    r = results
    sections = [
        ["# sgdnoise report", ""],
        _noise_fits(r.noise),
        _lr_decay(r.lr_decay),
        _escape_axis(r.escape_axis),
        _escape_time(r.escape_time),
        _escape_direction(r.escape_direction),
        _zhu_toy(r.zhu_toy),
        _zhu_network(r.zhu_network),
        _mori(r.mori),
        _recovery(r.recovery),
    ]
    return "\n".join(line for section in sections for line in section)


def _section(title: str, *blocks: str) -> list[str]:
    """The lines of one report section: its ``## title`` and each block, every one followed by a
    blank line."""
    return [line for block in (f"## {title}", *blocks) for line in (block, "")]


def _noise_fits(noise: NoiseFitResult) -> list[str]:
    cfg, t = noise.config, noise.training
    return _section(
        "Gradient noise of a trained network (Battash et al. Table 1, Figs. 1 and 5)",
        f"`{cfg.model}` trained on `{cfg.data}` with plain SGD ({cfg.epochs} epochs, lr {cfg.lr}, batch "
        f"{cfg.train_batch_size}; train accuracy {t['train_accuracy']:.3f}, test accuracy {t['test_accuracy']:.3f}). "
        f"At the final weights, the noise u_k = ∇U − g_k of K = {cfg.num_batches} random mini-batches of "
        f"B = {cfg.batch_size} was collected for {cfg.per_layer} random entries of every parameter tensor "
        f"({noise.collection['engine']} gradient engine, {noise.collection['seconds']:.1f} s) and fitted per entry "
        f"(method `{cfg.method}`).",
        summary_caption(noise.summary),
        markdown_table(noise.summary),
        "Per layer:",
        markdown_table(noise.layers),
        "![noise histograms](noise_fits/histograms.png)",
        "![alpha per layer](noise_fits/alpha_by_layer.png)",
        "SSE has the units of a squared density (it scales as 1/scale², hence the large values for small noise) and "
        "favours SαS, which nests the Gaussian; AIC and Chi² account for the extra parameter.",
    )


def _lr_decay(decay: DecayResult) -> list[str]:
    dc = decay.config
    return _section(
        "Learning-rate decay acts by reducing the noise (Battash et al. Fig. 2)",
        f"Three runs of `{dc.model}` on `{dc.data}` from one initialisation (lr {dc.lr}, batch {dc.batch_size}), "
        f"identical until epoch {dc.milestone}; then `lr_decay` divides the learning rate by {dc.factor}, "
        f"`batch_increase` multiplies the batch size by {dc.factor}, `constant` changes nothing. Noise of "
        f"K = {dc.noise_batches} mini-batches (at each run's batch size) before the milestone and after epoch "
        f"{dc.epochs}, same {dc.per_layer} entries per tensor.",
        markdown_table(decay.table),
        "![step noise before and after](lr_decay/step_noise.png)",
    )


def _escape_axis(escape: EscapeAxisResult) -> list[str]:
    ec = escape.config
    return _section(
        "Parameters with heavier tails are the escape route (Battash et al. Fig. 6)",
        f"GD plus SαS noise (ε = {ec.eps}, dt = {ec.dt}) on the 2-D Ackley function from its minimum, "
        f"α₂ = {ec.alpha}, α₁ = α₂ − Δ, {ec.paths} paths per Δ; a path exits when it passes radius {ec.radius}, "
        "through the axis of its larger coordinate.",
        markdown_table(escape.table),
        "![exit share](escape_axis/escape_axis.png)",
    )


def _escape_time(escape_time: EscapeTimeResult) -> list[str]:
    c = escape_time.config
    return _section(
        "Escape time from a minimum of a network (Battash et al. Figs. 3 and 4)",
        f"A 3-layer ReLU MLP trained on `{c.data}` (lr {c.train_lr}, batch {c.train_batch_size}) to a minimum; "
        f"from there {c.seeds} SGD seeds at once until the training loss exceeds {c.factor}× its minimum value "
        f"(at most {c.max_steps} steps). "
        "τ is the exponential-law estimate (total steps / escapes), the plain mean when every seed escaped.",
        markdown_table(escape_time.times),
        markdown_table(escape_time.fits[["model", "formula", "r2", "aic"]]),
        "![escape time and survival](escape_time/escape_time.png)",
    )


def _escape_direction(direction: EscapeDirectionResult) -> list[str]:
    c = direction.config
    return _section(
        "SGD leaves along flat directions, GD along the sharpest (Wang & Wu 2023)",
        f"Over-parameterised linear regression (n = {c.n_points}, d = {c.dim}) from its interpolating minimum; "
        f"GD at η·λ_max = {c.gd_factor} (unstable), SGD (batch {c.batch_size}) at η·λ_max = {c.sgd_factor} "
        f"(where GD is stable); share of the squared exit displacement (‖w − w*‖ > {c.radius}) on the top "
        f"eigenvector and the top {c.k}.",
        markdown_table(direction.table),
    )


def _zhu_toy(zhu: ZhuResult) -> list[str]:
    c = zhu.config
    return _section(
        "Anisotropic noise escapes a sharp minimum (Zhu et al. 2019, 2-D toy)",
        f"From the sharp minimum (1, 1), {c.n_steps} steps of lr {c.lr}; every noisy variant adds noise of total "
        f"variance {c.noise_variance} per step; success = both coordinates < −0.5 at the end ({c.n_repeats} repeats "
        "each).",
        markdown_table(zhu.table),
    )


def _zhu_network(result: ZhuNetworkResult) -> list[str]:
    c, a, st = result.config, result.anisotropy, result.start
    return _section(
        "... and on a network? (Zhu et al. 2019, scaled down)",
        f"An MLP (width {c.width}) trained by full-batch GD on {c.n_train} digits with {c.corrupt_fraction:.0%} "
        f"random labels to a memorising minimum (train accuracy {st['train_accuracy']:.3f}, test accuracy "
        f"{st['test_accuracy']:.3f}). From there {c.n_repeats} repeats of {c.n_steps} steps at lr {c.lr}: SGD (batch "
        f"{c.batch_size}), GD, and GD + Gaussian noise of SGD's total variance with the shapes of Zhu et al. — either "
        f"SGD's variance at the start (v = {result.noise_variance:.3g}, Zhu's protocol, `start`) or at each path's "
        "current point (`current`). Escape indicator at the start: "
        f"Tr(HΣ) = {a.trace_h_sigma:.3g} against {a.isotropic:.3g} for isotropic noise of the same total variance "
        f"({a.ratio:.0f}×). Mean ± standard error over repeats; train metrics on the corrupted labels.",
        markdown_table(result.table),
        "![test accuracy and distance per variant](zhu_network/zhu_network.png)",
    )


def _mori(mori: MoriResult) -> list[str]:
    c = mori.config
    return _section(
        "The stationary law is a power of the loss (Mori et al. 2022)",
        f"1-D SDE of SGD near a minimum of a mean-square loss, L = {c.loss_min} + h x²/2 (h = {c.curvature}), "
        f"noise variance 2ηhL/B, {c.n_paths} paths; φ fitted by maximum likelihood against φ = 1 + B/(ηh).",
        markdown_table(mori.table),
    )


def _recovery(recovery: RecoveryResult) -> list[str]:
    c = recovery.config
    return _section(
        "Estimator recovery",
        f"{c.rows_per_alpha} samples of K = {c.k} SαS draws (scale 1) per α, seed {c.seed}; RMSE of α̂ by method:",
        markdown_table(recovery.rmse_by_method(), "{:.3f}"),
    )
