"""``sgdnoise reproduce``: run the bundled default experiments and write their report."""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.experiments.escape_axis import EscapeAxisConfig, run_escape_axis
from sgdnoise.experiments.escape_direction import EscapeDirectionConfig, run_escape_direction
from sgdnoise.experiments.escape_time import EscapeTimeConfig, run_escape_time
from sgdnoise.experiments.estimator_recovery import RecoveryConfig, run_recovery
from sgdnoise.experiments.lr_decay import DecayConfig, run_lr_decay
from sgdnoise.experiments.mori_stationary import MoriConfig, run_mori_stationary
from sgdnoise.experiments.noise_fits import NoiseFitConfig, run_noise_fits
from sgdnoise.experiments.zhu_network import ZhuNetworkConfig, run_zhu_network
from sgdnoise.experiments.zhu_toy import ZhuConfig, run_zhu_toy
from sgdnoise.report import frame_table, markdown_table, summary_table
from sgdnoise.report.tables import console as report_console
from sgdnoise.report.tables import layers_table, summary_caption
from sgdnoise.store import atomic_path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="run the bundled default experiments and write a report",
        description="Run the bundled default experiments (no data download needed) and "
        "write tables, figures and a Markdown report to --out.",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: ./results)")
    p.add_argument("--rows", type=int, default=100, help="samples per alpha in the estimator check (default 100)")
    p.add_argument("--batches", type=int, default=1000, help="noise mini-batches K for the network (default 1000)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs of the network (default 30)")
    p.add_argument(
        "--paths", type=int, default=1000, help="simulated paths per Δ in the escape-axis experiment (default 1000)"
    )
    p.add_argument(
        "--zhu-steps", type=int, default=1000, help="steps of each noise variant on the network (default 1000)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = report_console()
    with console.status("gradient noise of an MLP trained on digits ..."):
        noise = run_noise_fits(NoiseFitConfig(num_batches=args.batches, epochs=args.epochs, seed=args.seed))
    noise.write(args.out / "noise_fits")
    console.print(layers_table(noise.layers))
    console.print(summary_table(noise.summary, title="Gradient noise of the digits MLP: Gaussian vs SαS"))
    decay = _step(
        console,
        "learning-rate decay vs batch increase: training three schedules ...",
        lambda: run_lr_decay(DecayConfig(seed=args.seed, noise_batches=max(20, args.batches // 2))),
        args.out / "lr_decay",
        "Noise before/after the milestone (u: gradient noise, η·u: step noise)",
    )
    escape = _step(
        console,
        "escape axis on 2-D Ackley: simulating Lévy-driven paths ...",
        lambda: run_escape_axis(EscapeAxisConfig(paths=args.paths, seed=args.seed)),
        args.out / "escape_axis",
        "Exit through the heavier-tailed axis (2-D Ackley, α₁ = α₂ − Δ)",
    )
    with console.status("escape from a minimum of an MLP: SGD ensembles over learning rates and batch sizes ..."):
        escape_time = run_escape_time(EscapeTimeConfig(seeds=max(10, args.paths // 10), seed=args.seed))
    escape_time.write(args.out / "escape_time")
    console.print(frame_table(escape_time.times, "Escape time from a trained minimum (steps)"))
    console.print(
        frame_table(escape_time.fits[["model", "formula", "r2", "aic"]], "Theories fitted to the escape times")
    )
    direction = _step(
        console,
        "escape directions of GD and SGD from a sharp minimum ...",
        lambda: run_escape_direction(EscapeDirectionConfig(seed=args.seed)),
        args.out / "escape_direction",
        "Share of the exit displacement on the top Hessian eigenvectors",
    )
    zhu = _step(
        console,
        "Zhu et al.'s 2-D toy: GD with noise of different shapes ...",
        lambda: run_zhu_toy(ZhuConfig(seed=args.seed)),
        args.out / "zhu_toy",
        "Escapes from the sharp minimum, equal noise variance (Zhu et al.)",
    )
    zhu_net = _step(
        console,
        "Zhu et al. on a network: GD + shaped noise vs SGD from a memorising minimum ...",
        lambda: run_zhu_network(ZhuNetworkConfig(n_steps=args.zhu_steps, seed=args.seed)),
        args.out / "zhu_network",
        "Zhu et al. on a network: GD + noise of equal total variance vs SGD",
    )
    mori = _step(
        console,
        "Mori et al.'s stationary law: simulating SGD's multiplicative-noise SDE ...",
        lambda: run_mori_stationary(MoriConfig(n_paths=20 * args.paths, seed=args.seed)),
        args.out / "mori_stationary",
        "Stationary law p ∝ L^-φ: fitted φ against 1 + B/(ηh)",
    )
    with console.status("estimator recovery: fitting samples of known α ..."):
        recovery = run_recovery(RecoveryConfig(rows_per_alpha=args.rows, seed=args.seed))
    recovery.write(args.out / "estimator_recovery")
    accuracy = recovery.accuracy.pivot(index="alpha", columns="method", values="rmse_alpha")
    console.print(
        frame_table(
            accuracy.reset_index().rename(columns={"alpha": "true α"}),
            f"RMSE of α̂ at K = {recovery.config.k} ({recovery.config.rows_per_alpha} samples per α)",
            "{:.3f}",
        )
    )
    report = args.out / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text(_markdown(noise, decay, escape, escape_time, direction, zhu, zhu_net, mori, recovery, accuracy))
    console.print(f"report: {report} (tables and figures in the folders beside it)")
    return 0


def _step(console, status: str, make, folder: Path, title: str):
    """Run one recipe under a status line, write its files to ``folder`` and print its table."""
    with console.status(status):
        result = make()
    result.write(folder)
    console.print(frame_table(result.table, title))
    return result


def _markdown(noise, decay, escape, escape_time, direction, zhu, zhu_net, mori, recovery, accuracy) -> str:
    cfg, t, rc, dc, ec = noise.config, noise.training, recovery.config, decay.config, escape.config
    return "\n".join(
        [
            "# sgdnoise report",
            "",
            "## Gradient noise of a trained network (Battash et al. Table 1, Figs. 1 and 5)",
            "",
            f"`{cfg.model}` trained on `{cfg.data}` with plain SGD ({cfg.epochs} epochs, lr {cfg.lr}, batch {cfg.train_batch_size}; "
            f"train accuracy {t['train_accuracy']:.3f}, test accuracy {t['test_accuracy']:.3f}). At the final weights, the noise "
            f"u_k = ∇U − g_k of K = {cfg.num_batches} random mini-batches of B = {cfg.batch_size} was collected for "
            f"{cfg.per_layer} random entries of every parameter tensor ({noise.collection['engine']} gradient engine, "
            f"{noise.collection['seconds']:.1f} s) and fitted per entry (method `{cfg.method}`).",
            "",
            summary_caption(noise.summary),
            "",
            markdown_table(noise.summary),
            "",
            "Per layer:",
            "",
            markdown_table(noise.layers),
            "",
            "![noise histograms](noise_fits/histograms.png)",
            "",
            "![alpha per layer](noise_fits/alpha_by_layer.png)",
            "",
            "SSE has the units of a squared density (it scales as 1/scale², hence the large values for small noise) and "
            "favours SαS, which nests the Gaussian; AIC and Chi² account for the extra parameter.",
            "",
            "## Learning-rate decay acts by reducing the noise (Battash et al. Fig. 2)",
            "",
            f"Three runs of `{dc.model}` on `{dc.data}` from one initialisation (lr {dc.lr}, batch {dc.batch_size}), identical "
            f"until epoch {dc.milestone}; then `lr_decay` divides the learning rate by {dc.factor}, `batch_increase` multiplies "
            f"the batch size by {dc.factor}, `constant` changes nothing. Noise of K = {dc.noise_batches} mini-batches (at each "
            f"run's batch size) before the milestone and after epoch {dc.epochs}, same {dc.per_layer} entries per tensor.",
            "",
            markdown_table(decay.table),
            "",
            "![step noise before and after](lr_decay/step_noise.png)",
            "",
            "## Parameters with heavier tails are the escape route (Battash et al. Fig. 6)",
            "",
            f"GD plus SαS noise (ε = {ec.eps}, dt = {ec.dt}) on the 2-D Ackley function from its minimum, α₂ = {ec.alpha}, "
            f"α₁ = α₂ − Δ, {ec.paths} paths per Δ; a path exits when it passes radius {ec.radius}, through the axis of its "
            "larger coordinate.",
            "",
            markdown_table(escape.table),
            "",
            "![exit share](escape_axis/escape_axis.png)",
            "",
            "## Escape time from a minimum of a network (Battash et al. Figs. 3 and 4)",
            "",
            f"A 3-layer ReLU MLP trained on `{escape_time.config.data}` (lr {escape_time.config.train_lr}, batch "
            f"{escape_time.config.train_batch_size}) to a minimum; from there {escape_time.config.seeds} SGD seeds at once until the "
            f"training loss exceeds {escape_time.config.factor}× its minimum value (at most {escape_time.config.max_steps} steps). "
            "τ is the exponential-law estimate (total steps / escapes), the plain mean when every seed escaped.",
            "",
            markdown_table(escape_time.times),
            "",
            markdown_table(escape_time.fits[["model", "formula", "r2", "aic"]]),
            "",
            "![escape time and survival](escape_time/escape_time.png)",
            "",
            "## SGD leaves along flat directions, GD along the sharpest (Wang & Wu 2023)",
            "",
            f"Over-parameterised linear regression (n = {direction.config.n_points}, d = {direction.config.dim}) from its "
            f"interpolating minimum; GD at η·λ_max = {direction.config.gd_factor} (unstable), SGD (batch "
            f"{direction.config.batch_size}) at η·λ_max = {direction.config.sgd_factor} (where GD is stable); share of the "
            f"squared exit displacement (‖w − w*‖ > {direction.config.radius}) on the top eigenvector and the top "
            f"{direction.config.k}.",
            "",
            markdown_table(direction.table),
            "",
            "## Anisotropic noise escapes a sharp minimum (Zhu et al. 2019, 2-D toy)",
            "",
            f"From the sharp minimum (1, 1), {zhu.config.n_steps} steps of lr {zhu.config.lr}; every noisy variant adds "
            f"noise of total variance {zhu.config.noise_variance} per step; success = both coordinates < −0.5 at the end "
            f"({zhu.config.n_repeats} repeats each).",
            "",
            markdown_table(zhu.table),
            "",
            "## ... and on a network? (Zhu et al. 2019, scaled down)",
            "",
            _zhu_network_text(zhu_net),
            "",
            markdown_table(zhu_net.table),
            "",
            "![test accuracy and distance per variant](zhu_network/zhu_network.png)",
            "",
            "## The stationary law is a power of the loss (Mori et al. 2022)",
            "",
            f"1-D SDE of SGD near a minimum of a mean-square loss, L = {mori.config.loss_min} + h x²/2 (h = {mori.config.curvature}), "
            f"noise variance 2ηhL/B, {mori.config.n_paths} paths; φ fitted by maximum likelihood against φ = 1 + B/(ηh).",
            "",
            markdown_table(mori.table),
            "",
            "## Estimator recovery",
            "",
            f"{rc.rows_per_alpha} samples of K = {rc.k} SαS draws (scale 1) per α, seed {rc.seed}; RMSE of α̂ by method:",
            "",
            markdown_table(accuracy.reset_index().rename(columns={"alpha": "true α"}), "{:.3f}"),
            "",
        ]
    )


def _zhu_network_text(result) -> str:
    c, a, st = result.config, result.anisotropy, result.start
    return (
        f"An MLP (width {c.width}) trained by full-batch GD on {c.n_train} digits with {c.corrupt_fraction:.0%} random labels to "
        f"a memorising minimum (train accuracy {st['train_accuracy']:.3f}, test accuracy {st['test_accuracy']:.3f}). From there "
        f"{c.n_repeats} repeats of {c.n_steps} steps at lr {c.lr}: SGD (batch {c.batch_size}), GD, and GD + Gaussian noise of "
        f"SGD's total variance with the shapes of Zhu et al. — either SGD's variance at the start (v = {result.noise_variance:.3g}, "
        "Zhu's protocol, `start`) or at each path's current point (`current`). Escape indicator at the start: "
        f"Tr(HΣ) = {a.trace_h_sigma:.3g} against {a.isotropic:.3g} for isotropic noise of the same total variance "
        f"({a.ratio:.0f}×). Mean ± standard error over repeats; train metrics on the corrupted labels."
    )
