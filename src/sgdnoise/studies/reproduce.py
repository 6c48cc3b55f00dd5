"""``sgdnoise reproduce``: the bundled recipes as resumable steps, in three sizes.

``quick`` (a first look, a few minutes on 2 CPU cores), ``default`` (the sizes the command has
always used) and ``full`` (the papers' sample sizes: K = 1000 mini-batches, 100 seeds per
escape-time point and 1000 per survival curve, 6 learning rates × 3 batch sizes). Every step is
seeded, so the same size and seed give the same numbers, also after an interruption and rerun.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgdnoise.errors import ConfigError
from sgdnoise.studies.steps import Step, StepsRun, run_steps

TITLE = "sgdnoise report: the bundled default"
INTRO = (
    "The bundled recipes of sgdnoise on bundled data (no download): gradient noise of a trained network and how it "
    "changes with the batch size, learning-rate decay, escape direction and time, the Lévy escape framework, Zhu et "
    "al.'s anisotropic noise, Mori et al.'s stationary law, the noise of a generative model (a VAE) and the SαS "
    "estimators' accuracy. Each section says what was run, what its numbers say, and links its tables (CSV, "
    "Parquet) and figures (PNG, SVG)."
)


@dataclass(frozen=True)
class ReproduceSize:
    """The sample sizes of one run: ``rows`` samples per α (estimator check), ``batches`` noise
    mini-batches K, ``epochs`` of training, ``paths`` per Δ on Ackley (Mori's SDE takes 20×),
    ``zhu_steps`` per noise variant on the network, ``escape_seeds`` per escape-time point and
    ``survival_seeds`` per survival curve, ``escape_lrs`` × ``escape_batch_sizes`` escape-time
    points (``()``: the recipe's one batch size), ``decay_batches`` noise mini-batches per LR-decay run
    and ``decay_epochs`` epochs per LR-decay run (the milestone half-way); α against B takes
    ``batches // 2`` mini-batches at each B and ``alpha_boot`` bootstrap resamplings; the Lévy escape
    framework (:mod:`sgdnoise.experiments.escape_model`) runs ``escape_model_seeds`` seeds per model
    for at most ``escape_model_steps`` steps, with K = ``batches`` noise mini-batches."""

    rows: int
    batches: int
    epochs: int
    paths: int
    zhu_steps: int
    escape_seeds: int
    survival_seeds: int
    escape_lrs: tuple[float, ...] = (0.3, 0.4, 0.5, 0.7)
    escape_batch_sizes: tuple[int, ...] = ()
    decay_batches: int = 500
    decay_epochs: int = 16
    alpha_boot: int = 100
    escape_model_seeds: int = 64
    escape_model_steps: int = 500


SIZES: dict[str, ReproduceSize] = {
    "quick": ReproduceSize(
        rows=30,
        batches=300,
        epochs=15,
        paths=300,
        zhu_steps=300,
        escape_seeds=30,
        survival_seeds=30,
        decay_batches=150,
        decay_epochs=8,
        alpha_boot=30,
        escape_model_seeds=32,
        escape_model_steps=300,
    ),
    "default": ReproduceSize(
        rows=100, batches=1000, epochs=30, paths=1000, zhu_steps=1000, escape_seeds=100, survival_seeds=100
    ),
    "full": ReproduceSize(
        rows=1000,
        batches=1000,
        epochs=30,
        paths=10000,
        zhu_steps=3000,
        escape_seeds=100,
        survival_seeds=1000,
        escape_lrs=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
        escape_batch_sizes=(4, 8, 16),
        decay_batches=1000,
        alpha_boot=200,
        escape_model_seeds=256,
        escape_model_steps=2000,
    ),
}

# The network of the escape-model step (an EscapeRecipe's fields; its epochs are 5 × the size's epochs):
# wine is small enough (547 parameters) for every parameter's basin, Hessian diagonal and noise fit in seconds.
ESCAPE_MODEL_NETWORK: dict[str, Any] = {
    "model": "mlp",
    "data": "wine",
    "model_options": {"depth": 2, "width": 16},
    "train_lr": 0.05,
    "train_batch_size": 32,
}

# Seconds each step takes at the "default" size on an idle 2-core machine (the step times of a measured
# default run, benchmarks/RESULTS.md), and the size parameter its work grows with: the estimate for
# another size scales each by that parameter's ratio.
DEFAULT_SECONDS: dict[str, tuple[float, str]] = {
    "noise_fits": (4.0, "batches"),
    "alpha_vs_batch": (6.3, "batches"),
    "lr_decay": (2.6, "decay_work"),
    "escape_axis": (1.5, "paths"),
    "escape_time": (26.2, "escape_points"),
    "escape_model": (5.6, "escape_model_work"),
    "escape_direction": (0.5, "none"),
    "zhu_toy": (1.3, "none"),
    "zhu_network": (33.5, "zhu_steps"),
    "mori_stationary": (8.7, "paths"),
    "vae_noise": (4.0, "batches"),
    "estimator_recovery": (4.3, "rows"),
}


def size_for(name: str, **overrides: Any) -> ReproduceSize:
    """The preset ``name`` with the given fields replaced (``None`` values ignored)."""
    if name not in SIZES:
        raise ConfigError(f"unknown size {name!r}; choose one of {', '.join(SIZES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    for key, value in changes.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key} must be a positive integer; got {value!r}")
    return dataclasses.replace(SIZES[name], **changes)


def estimate_seconds(size: ReproduceSize) -> float:
    """A rough run time for ``size`` on 2 CPU cores: each step's time at the default size, scaled by
    the ratio of the size parameter its work grows with."""
    default = SIZES["default"]
    total = 0.0
    for seconds, parameter in DEFAULT_SECONDS.values():
        total += seconds * _work(size, parameter) / _work(default, parameter)
    return total


def _work(size: ReproduceSize, parameter: str) -> float:
    if parameter == "none":
        return 1.0
    if parameter == "decay_work":  # three runs of training plus two noise collections each
        return size.decay_epochs * 10 + size.decay_batches / 50
    if parameter == "escape_model_work":  # three models' paths, all seeds of a model at once
        return size.escape_model_steps * (1 + size.escape_model_seeds / 64)
    if parameter == "escape_points":
        points = len(size.escape_lrs) * max(1, len(size.escape_batch_sizes))
        minima = 2 * len(size.escape_lrs) * min(500, 10 * size.escape_seeds) / 20  # two label-noise minima
        return points * size.escape_seeds + 3 * size.survival_seeds + minima
    return float(getattr(size, parameter))


def reproduce_steps(size: ReproduceSize, seed: int = 0) -> list[Step]:
    """The bundled recipes at ``size`` as steps, in the report's order."""
    from sgdnoise.experiments.alpha_vs_batch import AlphaBatchConfig, run_alpha_vs_batch
    from sgdnoise.experiments.escape_axis import EscapeAxisConfig, run_escape_axis
    from sgdnoise.experiments.escape_direction import EscapeDirectionConfig, run_escape_direction
    from sgdnoise.experiments.escape_model import EscapeModelConfig
    from sgdnoise.experiments.escape_time import EscapeTimeConfig, run_escape_time
    from sgdnoise.experiments.estimator_recovery import RecoveryConfig, run_recovery
    from sgdnoise.experiments.generative import VaeNoiseConfig, run_vae_noise
    from sgdnoise.experiments.lr_decay import DecayConfig, run_lr_decay
    from sgdnoise.experiments.mori_stationary import MoriConfig, run_mori_stationary
    from sgdnoise.experiments.noise_fits import NoiseFitConfig, run_noise_fits
    from sgdnoise.experiments.zhu_network import ZhuNetworkConfig, run_zhu_network
    from sgdnoise.experiments.zhu_toy import ZhuConfig, run_zhu_toy

    escape = EscapeTimeConfig(
        seeds=size.escape_seeds,
        survival_seeds=size.survival_seeds if size.survival_seeds != size.escape_seeds else None,
        lrs=size.escape_lrs,
        batch_sizes=size.escape_batch_sizes,
        seed=seed,
        alpha_batches=max(20, size.batches // 5),
        minima_seeds=max(4, size.escape_seeds // 4),
        minima_max_steps=min(500, 10 * size.escape_seeds),
    )
    recipes = (
        (
            "noise_fits",
            "gradient noise of an MLP trained on digits",
            NoiseFitConfig(num_batches=size.batches, epochs=size.epochs, seed=seed),
            run_noise_fits,
        ),
        (
            "alpha_vs_batch",
            "α against the batch size, trained and initial weights",
            AlphaBatchConfig(
                num_batches=max(20, size.batches // 2), n_boot=size.alpha_boot, epochs=size.epochs, seed=seed
            ),
            run_alpha_vs_batch,
        ),
        (
            "lr_decay",
            "learning-rate decay vs batch increase",
            DecayConfig(
                seed=seed,
                noise_batches=max(20, size.decay_batches),
                epochs=size.decay_epochs,
                milestone=max(1, size.decay_epochs // 2),
            ),
            run_lr_decay,
        ),
        ("escape_axis", "escape axis on 2-D Ackley", EscapeAxisConfig(paths=size.paths, seed=seed), run_escape_axis),
        ("escape_time", "escape time from a minimum of an MLP", escape, run_escape_time),
        (
            "escape_model",
            "Lévy escape framework on a wine MLP",
            EscapeModelConfig(
                lr=0.4,
                batch_size=8,
                num_batches=max(20, size.batches),
                n_seeds=size.escape_model_seeds,
                max_steps=size.escape_model_steps,
                seed=seed,
                n_bootstrap=2 * size.alpha_boot,
                network={**ESCAPE_MODEL_NETWORK, "epochs": 5 * size.epochs},
            ),
            _run_escape_model,
        ),
        ("escape_direction", "escape directions of GD and SGD", EscapeDirectionConfig(seed=seed), run_escape_direction),
        ("zhu_toy", "Zhu et al.'s 2-D toy", ZhuConfig(seed=seed), run_zhu_toy),
        (
            "zhu_network",
            "Zhu et al. on a network",
            ZhuNetworkConfig(n_steps=size.zhu_steps, seed=seed),
            run_zhu_network,
        ),
        (
            "mori_stationary",
            "Mori et al.'s stationary law",
            MoriConfig(n_paths=20 * size.paths, seed=seed),
            run_mori_stationary,
        ),
        (
            "vae_noise",
            "gradient noise of a VAE's ELBO on the MNIST sample",
            VaeNoiseConfig(num_batches=size.batches, epochs=max(1, size.epochs // 3), seed=seed),
            run_vae_noise,
        ),
        ("estimator_recovery", "estimator recovery", RecoveryConfig(rows_per_alpha=size.rows, seed=seed), run_recovery),
    )
    return [
        Step(key, description, {"recipe": key, "config": config}, (lambda c=config, f=run: f(c)))
        for key, description, config, run in recipes
    ]


def _network_recipe(config: Any) -> Any:
    from sgdnoise.experiments.escape_recipe import EscapeRecipe

    return EscapeRecipe(**config.network)


def _run_escape_model(config: Any) -> Any:
    """The escape-model step: the network its config names (an :class:`EscapeRecipe` as a dict),
    trained to its minimum, then :func:`~sgdnoise.experiments.escape_model.escape_model`."""
    from sgdnoise.experiments.escape_recipe import run_escape_recipe

    return run_escape_recipe(_network_recipe(config), config)


def run_reproduce(
    out: str | Path, size: ReproduceSize | str = "default", *, seed: int = 0, console: Any = None
) -> StepsRun:
    """Run (or resume) the bundled recipes into ``out`` and write ``out/index.html`` and ``out/report.md``."""
    size = size_for(size) if isinstance(size, str) else size
    return run_steps(
        reproduce_steps(size, seed),
        out,
        title=TITLE,
        intro=INTRO,
        config={"command": "reproduce", "size": dataclasses.asdict(size), "seed": seed},
        console=console,
    )


def run_paper(
    name: str,
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    stand_in: bool = False,
    seed: int = 0,
    console: Any = None,
) -> StepsRun:
    """One of Battash et al.'s tables (``"table1"``, ``"table2"``, ``"table3"``) as the paper ran
    it, on the data under ``data_root``, into ``out`` with its report; or, with ``stand_in``, the
    same code path on bundled stand-ins. Without ``stand_in``, missing data raises
    :class:`~sgdnoise.errors.DataFileError` listing every file and where to put it, before any work."""
    import dataclasses as dc

    from sgdnoise.errors import DataFileError
    from sgdnoise.experiments.paper_tables import missing_data, paper_table_config, run_paper_table

    config = dc.replace(paper_table_config(name, data_root), seed=seed)
    missing = missing_data(config)
    if missing and not stand_in:
        raise DataFileError(
            f"{name} needs data that is not under {config.data_root}:\n"
            + "\n".join(f"- {m}" for m in missing)
            + "\nput it there (or pass --data-root DIR), or run the same code path on bundled stand-ins with --stand-in"
        )
    work = Path(out) / "work"
    step = Step(
        "paper_table",
        f"Battash et al. {name}" + (" on stand-ins" if stand_in else ""),
        {"paper": name, "config": config, "stand_in": stand_in},
        lambda: run_paper_table(config, stand_in=stand_in, work_dir=work),
    )
    return run_steps(
        [step],
        out,
        title=f"sgdnoise report: Battash et al. {name}" + (" (stand-ins)" if stand_in else ""),
        config={"command": "reproduce", "paper": name, "stand_in": stand_in, "seed": seed},
        console=console,
    )
