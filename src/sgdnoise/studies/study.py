"""A study: the chosen analyses of one model, loss and data, as results and as one report.

``run_study(model, loss_fn, data, config)`` (also ``sgdnoise.study``) runs the analyses the
config selects at the model's weights (after ``train.epochs`` of plain SGD when asked) and
returns a :class:`Study`; with ``out`` every analysis is a resumable step in ``out`` and the
report is written there. ``Study.write(folder)`` writes the same report for an in-memory study.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from sgdnoise.errors import ConfigError
from sgdnoise.report.bundle import write_report
from sgdnoise.report.document import Report, Section
from sgdnoise.report.sections import build_section
from sgdnoise.store.steps import fingerprint
from sgdnoise.studies.config import StudyConfig, parse_config
from sgdnoise.studies.steps import Step, run_steps

TITLE = "sgdnoise study"


@dataclass
class Study:
    """The analyses' ``results`` by name (result dataclasses with ``to_frame``-like tables),
    their report ``sections``, the ``config`` and, once written, the report's ``files``."""

    config: StudyConfig
    results: dict[str, Any]
    seconds: dict[str, float]
    subject: str = ""
    sections: dict[str, Section] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of every analysis, keyed ``analysis/table``."""
        return {f"{s.key}/{t.name}": t.frame for s in self.sections.values() for t in s.tables}

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write each result into ``folder/<analysis>`` and the report (``index.html``, ``report.md``,
        tables, ``manifest.json``) into ``folder``; return the report's files."""
        folder = Path(folder)
        for key, result in self.results.items():
            result.write(folder / key)
            self.sections[key] = build_section(key, result, folder / key, seconds=self.seconds.get(key))
        self.files = write_report(_report(self, tuple(self.sections.values())), folder)
        return self.files


def analysis_steps(model: nn.Module, loss_fn, data, config: StudyConfig, subject: Any) -> list[Step]:
    """The analyses ``config`` selects, as steps whose inputs are the settings, the weights and the data."""
    from sgdnoise.experiments.alpha_vs_batch import BatchSweepConfig, run_batch_sweep
    from sgdnoise.experiments.model_curvature import ModelCurvatureConfig, run_model_curvature
    from sgdnoise.experiments.model_noise import ModelNoiseConfig, run_model_noise

    c, seed = config, config.seed
    recipes = {
        "noise_fits": (
            "gradient noise per parameter: Gaussian or SαS",
            ModelNoiseConfig(
                c.noise_fits.batch_size, c.noise_fits.batches, c.noise_fits.per_layer, c.noise_fits.method, seed
            ),
            run_model_noise,
        ),
        "alpha_vs_batch": (
            "tail index against the batch size",
            BatchSweepConfig(
                c.alpha_vs_batch.batch_sizes,
                c.alpha_vs_batch.batches,
                c.alpha_vs_batch.per_layer,
                c.alpha_vs_batch.n_boot,
                seed,
            ),
            run_batch_sweep,
        ),
        "curvature": (
            "curvature and noise geometry",
            ModelCurvatureConfig(
                c.curvature.k,
                c.curvature.tol,
                c.curvature.batch_size,
                c.curvature.max_samples,
                c.curvature.trace_products,
                seed,
            ),
            run_model_curvature,
        ),
    }
    return [
        Step(
            key,
            recipes[key][0],
            {"analysis": key, "config": recipes[key][1], "subject": subject},
            (lambda cfg=recipes[key][1], run=recipes[key][2]: run(model, loss_fn, data, cfg)),
        )
        for key in config.analyses
    ]


def run_study(
    model: nn.Module,
    loss_fn,
    data,
    config: StudyConfig | dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    subject: str = "",
    console: Any = None,
) -> Study:
    """Run the analyses ``config`` selects on ``model`` (trained first when ``train.epochs`` > 0)
    with ``loss_fn`` over ``data`` (Dataset, ``(X, y)`` or DataLoader); see the module docstring."""
    config = parse_config(config or {})
    from sgdnoise.plumbing import as_data_source, model_device

    x, y = as_data_source(data).tensors(model_device(model))
    check_sizes(config, len(x))
    if config.train.epochs:
        from sgdnoise.training import TrainConfig, train

        t = config.train
        train(
            model,
            (x, y),
            TrainConfig(epochs=t.epochs, lr=t.lr, batch_size=t.batch_size, seed=config.seed),
            loss_fn=loss_fn,
        )
    weights = {"weights": {k: v for k, v in model.state_dict().items()}, "architecture": repr(model)}
    inputs = fingerprint({"model": weights, "data": (x, y), "loss": repr(loss_fn)})
    steps = analysis_steps(model, loss_fn, (x, y), config, inputs)
    study = Study(config, {}, {}, subject)
    if out is None:
        for step in steps:
            start = time.perf_counter()
            study.results[step.key] = step.compute()
            study.seconds[step.key] = time.perf_counter() - start
        return study
    run = run_steps(steps, out, title=TITLE, intro=_intro(subject), config=_config(config, subject), console=console)
    study.results = {k: o.result for k, o in run.outcomes.items()}
    study.seconds = {k: o.seconds for k, o in run.outcomes.items()}
    study.sections, study.files = run.sections, run.files
    return study


def check_sizes(config: StudyConfig, n: int) -> None:
    """Refuse batch sizes larger than the data set's ``n`` points (before anything runs)."""
    sizes = {
        "noise_fits.batch_size": config.noise_fits.batch_size if "noise_fits" in config.analyses else 0,
        "curvature.batch_size": config.curvature.batch_size if "curvature" in config.analyses else 0,
        "train.batch_size": config.train.batch_size if config.train.epochs else 0,
        "alpha_vs_batch.batch_sizes": max(config.alpha_vs_batch.batch_sizes)
        if "alpha_vs_batch" in config.analyses
        else 0,
    }
    for key, size in sizes.items():
        if size > n:
            raise ConfigError(f"`{key}` asks for mini-batches of {size} but the data has {n} points; use at most {n}")


def _intro(subject: str) -> str:
    return (
        f"The analyses of {subject or 'a model'} chosen by the study config; each section says what was run and "
        "what its numbers say."
    )


def _config(config: StudyConfig, subject: str) -> dict[str, Any]:
    return {"command": "study", "subject": subject, **config.model_dump(mode="json")}


def _report(study: Study, sections: tuple[Section, ...]) -> Report:
    return Report(
        title=TITLE, intro=_intro(study.subject), sections=sections, config=_config(study.config, study.subject)
    )


__all__ = ["Study", "check_sizes", "run_study"]


def study_from_specs(
    config: StudyConfig,
    *,
    model: str | None = None,
    data: str | None = None,
    loss: str | None = None,
    checkpoint: str | None = None,
    out: str | Path,
    console: Any = None,
) -> Study:
    """``sgdnoise study``: the model, data and loss named by registry names or import paths (the
    arguments win over the config's keys), checked, then :func:`run_study` into ``out``."""
    from sgdnoise.studies.loading import load_data, load_loss, load_model

    overrides = {k: v for k, v in {"model": model, "data": data, "loss": loss, "checkpoint": checkpoint}.items() if v}
    config = parse_config({**config.model_dump(exclude_none=True), **overrides}, source="the study options")
    if config.model is None or config.data is None:
        missing = " and ".join(f"--{k}" for k in ("model", "data") if getattr(config, k) is None)
        raise ConfigError(f"no {missing}: give a registry name or an import path pkg.module:function")
    dataset, data_name = load_data(config.data, config.seed)
    net = load_model(config.model, dataset, config.seed, config.checkpoint)
    from sgdnoise.plumbing import as_data_source

    _, targets = as_data_source(dataset).tensors("cpu")
    loss_fn = load_loss(config.loss, targets)
    return run_study(net, loss_fn, dataset, config, out=out, subject=f"{config.model} on {data_name}", console=console)
