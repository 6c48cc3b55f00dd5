"""Battash et al.'s noise tables as runs: ResNets on CIFAR-100 (Table 1) and CINIC-10 (Table 3),
BERT-base fine-tuned on CoLA (Table 2).

Each table is a :class:`PaperTableConfig` (:func:`paper_table_config`): its networks, their
training, the mini-batch sizes ``B`` the noise is measured at, the number of sampled entries and
``K``. A run trains (or fine-tunes) a network with plain SGD (no momentum, no weight decay, as the
paper), fixes the weights, draws ``num_params`` entries uniformly over *all* the network's
entries (not per layer; the paper's "randomly sampled parameters"), collects their noise over
``K`` mini-batches of ``B`` (:func:`sgdnoise.gradients.collect_noise`) and fits Gaussian and SαS
laws to each entry (:func:`sgdnoise.experiments.noise_fits.fit_network_noise`); a table row is
the mean ± std over the fitted entries of each law's SSE and Chi² (the paper's columns).

From the paper (seed 001, §5 and Tables 1–2): ResNet-18/34/50/110 on CIFAR-100 at ``B = 400``
with 100 sampled parameters; BERT-base on CoLA at ``B = 8`` and ``32`` with 120; the same ResNets
on CINIC-10 (Table 3). Not in the text we have (its appendix A.1.1 holds them), so chosen here and
listed in each config's ``assumptions``: ``K = 1000`` mini-batches; Table 3's ``B = 400`` and 100
parameters (as Table 1); the ResNets' training (160 epochs, learning rate 0.1, batch 128, ÷10 at
epochs 80 and 120: He et al. 2016's CIFAR schedule without momentum and weight decay); BERT's
fine-tuning from the pretrained ``bert-base-uncased`` (3 epochs, batch 32, learning rate 0.01 —
plain SGD needs a larger rate than Adam's 2e-5 — sentences cut at 64 tokens).

:func:`missing_data` lists what a table needs that ``data_root`` lacks, and where to put it;
:func:`run_paper_table` runs a table, or with ``stand_in=True`` the same code path at small size
on bundled stand-ins (:func:`stand_in_config`: the digits for CIFAR-100 and CINIC-10 with
ResNet-20 for every ResNet, a tiny BERT on generated sentences in CoLA's layout for BERT-base).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.data import load_dataset, write_cola_folder
from sgdnoise.data.cifar import CIFAR_LAYOUTS, find_cifar_folder
from sgdnoise.data.cola import COLA_URL, GLUE_URL, cola_files
from sgdnoise.data.images import CINIC10_URL
from sgdnoise.errors import ConfigError, DataFileError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import network_for
from sgdnoise.experiments.noise_fits import fit_network_noise
from sgdnoise.gradients import DEFAULT_MEMORY_BUDGET, ParameterSelection
from sgdnoise.plumbing import as_data_source, default_loss, model_device, positive_int
from sgdnoise.rng import as_generator
from sgdnoise.store import write_table
from sgdnoise.training import TrainConfig, evaluate, train

PAPER_TABLES = ("table1", "table2", "table3")
BERT_FOLDER = "bert-base-uncased"
BERT_URL = "https://huggingface.co/bert-base-uncased"
_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet110")
_RESNET_TRAINING = {"epochs": 160, "lr": 0.1, "train_batch_size": 128, "lr_milestones": (80, 120)}
_K = 1000


@dataclass(frozen=True)
class PaperRun:
    """One network of a table: what it is (``model``, ``data`` and their options), how it is
    trained (plain SGD: ``epochs``, ``lr``, ``train_batch_size``, ``lr_milestones`` ÷10; or the
    weights in ``checkpoint``, a ``state_dict`` file, measured as they are) and where its noise is
    measured (``batch_sizes``, ``num_batches`` K, ``num_params`` entries over the whole network).
    ``label`` is the paper's name for the row (e.g. "ResNet18", "Bert Base")."""

    label: str
    model: str
    data: str
    batch_sizes: tuple[int, ...]
    num_params: int
    num_batches: int = _K
    data_options: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 160
    lr: float = 0.1
    train_batch_size: int = 128
    lr_milestones: tuple[int, ...] = ()
    checkpoint: str | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", tuple(int(b) for b in self.batch_sizes))
        object.__setattr__(self, "lr_milestones", tuple(self.lr_milestones))
        for b in self.batch_sizes:
            positive_int(b, "batch size", error=ConfigError)
        positive_int(self.num_params, "num_params", error=ConfigError)
        positive_int(self.num_batches, "num_batches (draws per fitted entry)", minimum=20, error=ConfigError)


@dataclass(frozen=True)
class PaperTableConfig:
    """A table of the paper: its ``runs``, where its data lives (``data_root``), the SαS
    estimator (``method``), the ``seed`` of training and sampling, and the settings the paper's
    text does not give and that were chosen here (``assumptions``)."""

    name: str
    caption: str
    runs: tuple[PaperRun, ...]
    data_root: str | None = None
    seed: int = 0
    method: str = "cf"
    assumptions: tuple[str, ...] = ()
    stand_in: bool = False


def paper_table_config(name: str, data_root: str | Path | None = None) -> PaperTableConfig:
    """The configuration of Battash et al.'s ``"table1"``, ``"table2"`` or ``"table3"`` (module
    docstring), reading its data under ``data_root`` (default: ``$SGDNOISE_DATA`` or
    ``~/.sgdnoise/data``)."""
    from sgdnoise.data import default_root

    if name not in PAPER_TABLES:
        raise ConfigError(f"unknown paper table {name!r}; choose one of {', '.join(PAPER_TABLES)}")
    root = Path(data_root).expanduser() if data_root else default_root()
    common = ("K = 1000 mini-batches per measurement (not stated in the paper's text)",)
    resnet_training = (
        "ResNets trained 160 epochs with plain SGD, learning rate 0.1, batch 128, ÷10 at epochs 80 and 120 "
        "(He et al. 2016's CIFAR schedule without momentum and weight decay; the paper's recipe is in its appendix)",
    )
    if name in ("table1", "table3"):
        data = "cifar100" if name == "table1" else "cinic10"
        runs = tuple(
            PaperRun(
                label=f"ResNet{m.removeprefix('resnet')}",
                model=m,
                data=data,
                data_options={"root": str(root)},
                batch_sizes=(400,),
                num_params=100,
                **_RESNET_TRAINING,
            )
            for m in _RESNETS
        )
        caption = (
            "Table 1: fitting error between SGN and SαS/Gaussian, 100 randomly sampled parameters, ResNets trained "
            "on CIFAR-100, batch size 400"
            if name == "table1"
            else "Table 3: fitting error between SGN and SαS/Gaussian, ResNets trained on CINIC-10"
        )
        extra = () if name == "table1" else ("Table 3: B = 400 and 100 sampled parameters, as Table 1",)
        return PaperTableConfig(name, caption, runs, str(root), assumptions=common + extra + resnet_training)
    bert = root / BERT_FOLDER
    run = PaperRun(
        label="Bert Base",
        model="bert_base",
        data="cola",
        data_options={"root": str(root), "tokenizer": str(bert), "max_length": 64},
        model_options={"checkpoint": str(bert)},
        batch_sizes=(8, 32),
        num_params=120,
        epochs=3,
        lr=0.01,
        train_batch_size=32,
        memory_budget=4 << 30,  # one BERT-base mini-batch needs 3 gradient copies: 1.3 GB
    )
    caption = "Table 2: fitting errors, 120 randomly sampled parameters of BERT-base fine-tuned on CoLA"
    assumptions = (
        *common,
        f"fine-tuned from the pretrained {BERT_FOLDER} with its tokenizer, 3 epochs, plain SGD, batch 32, learning "
        "rate 0.01, sentences cut at 64 tokens, dropout 0.1 while training",
    )
    return PaperTableConfig(name, caption, (run,), str(root), assumptions=assumptions)


@dataclass(frozen=True)
class MissingData:
    """Something a table needs that is not on disk: ``what``, the folder to put it in (``where``)
    and how to get it (``how``)."""

    what: str
    where: str
    how: str

    def __str__(self) -> str:
        return f"{self.what}: put it in {self.where} ({self.how})"


def missing_data(config: PaperTableConfig) -> list[MissingData]:
    """What the runs of ``config`` need and its ``data_root`` lacks (empty when all is there)."""
    root = Path(config.data_root or ".").expanduser()
    missing: list[MissingData] = []
    needs = {run.data for run in config.runs} | {"bert" for run in config.runs if "checkpoint" in run.model_options}
    if "cifar100" in needs and find_cifar_folder("cifar100", root) is None:
        layout = CIFAR_LAYOUTS["cifar100"]
        missing.append(
            MissingData(
                "CIFAR-100 python batches (train, test, meta)",
                str(root / layout["folder"]),
                f"download {layout['url']} and extract it in {root}: tar xzf cifar-100-python.tar.gz",
            )
        )
    if "cinic10" in needs and not any((f / "train").is_dir() for f in (root, root / "cinic-10", root / "CINIC-10")):
        missing.append(
            MissingData(
                "CINIC-10 image folders train/, valid/, test/",
                str(root / "cinic-10"),
                f"download CINIC-10.tar.gz from {CINIC10_URL} and extract it there",
            )
        )
    if "cola" in needs:
        try:
            cola_files(root)
        except DataFileError:
            missing.append(
                MissingData(
                    "CoLA in_domain_train.tsv, in_domain_dev.tsv, out_of_domain_dev.tsv (or GLUE's CoLA/train.tsv "
                    "and dev.tsv)",
                    str(root / "CoLA"),
                    f"cola_public/raw of {COLA_URL}, or the CoLA task of {GLUE_URL}",
                )
            )
    if "bert" in needs:
        folder = root / BERT_FOLDER
        weights = any((folder / f).is_file() for f in ("model.safetensors", "pytorch_model.bin"))
        if not ((folder / "config.json").is_file() and (folder / "vocab.txt").is_file() and weights):
            missing.append(
                MissingData(
                    "pretrained BERT-base: config.json, vocab.txt and model.safetensors (or pytorch_model.bin)",
                    str(folder),
                    f"the files of {BERT_URL}, e.g. copied from a machine with internet access; nothing is downloaded "
                    "here",
                )
            )
    return missing


def stand_in_config(config: PaperTableConfig, *, work_dir: str | Path, runs: int | None = None) -> PaperTableConfig:
    """``config`` at small size on bundled stand-ins (module docstring), its generated CoLA files
    written under ``work_dir``: every measurement at ``K = 20``, 12 entries, the ResNet tables at
    ``B = 32``, one training epoch. ``runs`` keeps the first runs only."""
    chosen = config.runs[: runs or len(config.runs)]
    small = []
    for run in chosen:
        if run.data == "cola":
            folder = write_cola_folder(Path(work_dir) / "cola_stand_in", train=96, dev=32, seed=config.seed)
            small.append(
                replace(
                    run,
                    label=f"{run.label} (stand-in: tiny_bert, generated sentences)",
                    model="tiny_bert",
                    data="cola",
                    data_options={"root": str(folder), "max_length": 16},
                    model_options={},
                    num_params=12,
                    num_batches=20,
                    epochs=1,
                    lr=0.05,
                    train_batch_size=16,
                    memory_budget=DEFAULT_MEMORY_BUDGET,
                )
            )
        else:
            small.append(
                replace(
                    run,
                    label=f"{run.label} (stand-in: resnet20, digits)",
                    model="resnet20",
                    data="digits",
                    data_options={},
                    batch_sizes=(32,),
                    num_params=12,
                    num_batches=20,
                    epochs=1,
                    lr=0.05,
                    train_batch_size=64,
                    lr_milestones=(),
                )
            )
    return replace(config, runs=tuple(small), data_root=None, stand_in=True)


def sample_entries(model: torch.nn.Module, n: int, seed: int) -> ParameterSelection:
    """``n`` distinct entries drawn uniformly over all trainable entries of ``model`` (each entry
    equally likely, so a tensor gets entries in proportion to its size), as sorted flat indices."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    sizes = torch.tensor([p.numel() for p in params.values()])
    ends = torch.cumsum(sizes, 0)
    total = int(ends[-1])
    if n > total:
        raise ConfigError(f"cannot sample {n} entries from a network of {total}")
    flat = torch.randperm(total, generator=as_generator(seed))[:n].sort().values
    owner = torch.searchsorted(ends, flat, right=True)
    entries = {}
    for j, name in enumerate(params):
        chosen = flat[owner == j] - (ends[j] - sizes[j])
        if len(chosen):
            entries[name] = chosen
    return ParameterSelection(entries=entries, shapes={name: tuple(params[name].shape) for name in entries})


@dataclass(frozen=True)
class PaperTableResult:
    """``table``: one row per (run, B) — the paper's columns (Gauss/SαS SSE and Chi², mean and
    std over the fitted entries), entries fitted and set aside as degenerate, median α, and the
    weights' train/test accuracy; ``fits``: each measurement's per-entry fits, keyed
    ``"<model>_B<b>"``; ``missing``: what the real table would still need (stand-ins only)."""

    config: PaperTableConfig
    table: pd.DataFrame
    fits: dict[str, pd.DataFrame]
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table.to_dict("records"), "missing": list(self.missing)}

    def write(self, folder: str | Path) -> dict[str, Path]:
        """``table.csv``, ``fits_<model>_B<b>.parquet`` and ``manifest.json`` in ``folder``."""
        folder = Path(folder)
        paths = {"table": write_table(self.table, folder / "table.csv")}
        for key, fits in self.fits.items():
            paths[key] = write_table(fits, folder / f"fits_{key}.parquet")
        paths["manifest"] = write_manifest(self, folder)
        return paths


def run_paper_table(
    config: PaperTableConfig,
    *,
    stand_in: bool = False,
    work_dir: str | Path | None = None,
    runs: int | None = None,
    progress: bool = False,
) -> PaperTableResult:
    """Run the table ``config`` (module docstring); with ``stand_in=True`` run
    :func:`stand_in_config` of it instead (``runs`` keeps its first runs). Training checkpoints go
    to ``work_dir/<model>`` when ``work_dir`` is given (a run resumes from them), and the stand-in's
    generated sentences too (else a temporary folder).

    Raises :class:`DataFileError` listing every missing file and where to put it when the real
    table's data is not all there.
    """
    missing = missing_data(config)
    if not stand_in:
        if missing:
            raise DataFileError(
                f"{config.name} needs data that is not in {config.data_root}:\n"
                + "\n".join(f"- {m}" for m in missing)
                + "\nor run it on stand-ins (stand_in=True)"
            )
        return _run(config, work_dir, (), progress)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="sgdnoise-stand-in-") as tmp:
            small = stand_in_config(config, work_dir=tmp, runs=runs)
            return _run(small, None, tuple(str(m) for m in missing), progress)
    small = stand_in_config(config, work_dir=work_dir, runs=runs)
    return _run(small, work_dir, tuple(str(m) for m in missing), progress)


def _run(
    config: PaperTableConfig, work_dir: str | Path | None, missing: tuple[str, ...], progress: bool
) -> PaperTableResult:
    rows, all_fits = [], {}
    for run in config.runs:
        data = load_dataset(run.data, split="train", seed=config.seed, **run.data_options)
        test = load_dataset(run.data, split="test", seed=config.seed, **run.data_options)
        model = network_for(
            data.info, run.model, seed=config.seed, options=run.model_options, checkpoint=run.checkpoint
        )
        if not run.checkpoint:
            train(
                model,
                data,
                TrainConfig(
                    epochs=run.epochs,
                    lr=run.lr,
                    batch_size=run.train_batch_size,
                    lr_milestones=run.lr_milestones,
                    seed=config.seed,
                    checkpoint_dir=str(Path(work_dir) / run.model) if work_dir else None,
                    progress=progress,
                ),
            )
        x, y = as_data_source(data).tensors(model_device(model))
        loss_fn = default_loss(y)
        _, train_accuracy = evaluate(model, loss_fn, x, y)
        _, test_accuracy = evaluate(model, loss_fn, *as_data_source(test).tensors(x.device))
        selection = sample_entries(model, run.num_params, config.seed)
        for batch_size in run.batch_sizes:
            fits, _, collection = fit_network_noise(
                model,
                loss_fn,
                (x, y),
                batch_size=batch_size,
                num_batches=run.num_batches,
                per_layer=selection,
                seed=config.seed,
                method=config.method,
                memory_budget=run.memory_budget,
                progress=progress,
            )
            all_fits[f"{run.model}_B{batch_size}"] = fits
            rows.append(
                _row(run, batch_size, fits)
                | {
                    "train_accuracy": train_accuracy,
                    "test_accuracy": test_accuracy,
                    "engine": collection["engine"],
                    "seconds": collection["seconds"],
                }
            )
    return PaperTableResult(config, pd.DataFrame(rows), all_fits, missing)


def _row(run: PaperRun, batch_size: int, fits: pd.DataFrame) -> dict[str, Any]:
    fitted = fits[~fits["degenerate"].astype(bool)]
    row: dict[str, Any] = {"model": run.label, "data": run.data, "batch_size": batch_size, "K": run.num_batches}
    for metric, name in (("sse", "SSE"), ("chi2", "Chi2")):
        for law, label in (("gauss", "Gauss"), ("sas", "SaS")):
            values = fitted[f"{metric}_{law}"]
            row[f"{label}-{name}"] = float(values.mean()) if len(values) else np.nan
            row[f"{label}-{name} std"] = float(values.std()) if len(values) > 1 else np.nan
    row["entries"], row["degenerate"] = len(fitted), len(fits) - len(fitted)
    row["alpha_median"] = float(fitted["alpha"].median()) if len(fitted) else np.nan
    return row
