"""The resumable training state written to ``last.pt`` at the end of every epoch.

Everything is a tensor, number, string, list or dict, so it loads with
``torch.load(weights_only=True)``. Restoring it — weights (and BatchNorm buffers), optimizer
state, the shuffling generator's state and PyTorch's global generator of the CPU and, when training
there, of the GPU (dropout) — makes the resumed run draw exactly the same mini-batches as an
uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import ConfigError
from sgdnoise.models.checkpoint import MODEL_STATE_KEY, check_state_dict, read_checkpoint, save_checkpoint
from sgdnoise.plumbing import model_device
from sgdnoise.training.config import RESULT_FIELDS, TrainConfig

LAST = "last.pt"
FORMAT = 1


def save_state(
    path: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle_rng: torch.Generator,
    epoch: int,
    history: list[dict[str, Any]],
    config: TrainConfig,
) -> None:
    """Write the state after ``epoch`` completed epochs to ``path`` atomically."""
    save_checkpoint(
        {
            "format": FORMAT,
            MODEL_STATE_KEY: model.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "shuffle_rng": shuffle_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            **(
                {"cuda_rng": torch.cuda.get_rng_state(device)} if (device := model_device(model)).type == "cuda" else {}
            ),
            "epoch": epoch,
            "history": history,
            "config": {k: config.to_dict()[k] for k in RESULT_FIELDS},
        },
        path,
    )


def restore_state(
    path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, shuffle_rng: torch.Generator, config: TrainConfig
) -> tuple[int, list[dict[str, Any]]]:
    """Load ``path`` into model, optimizer and generators; return ``(completed epochs, history)``.

    Raises :class:`ConfigError` if the checkpoint was written with a different schedule, seed
    or batch size, or is already past ``config.epochs``, and :class:`DataFileError` if its
    weights do not fit ``model``.
    """
    state = read_checkpoint(path, map_location="cpu")
    saved = state.get("config", {})
    wanted = {k: config.to_dict()[k] for k in RESULT_FIELDS}
    differing = {
        k: (_plain(saved.get(k)), _plain(wanted[k])) for k in RESULT_FIELDS if _plain(saved.get(k)) != _plain(wanted[k])
    }
    if differing:
        details = ", ".join(f"{k}: checkpoint {a} vs now {b}" for k, (a, b) in differing.items())
        raise ConfigError(
            f"{path} was written by a run with different settings ({details}); use a new output folder, or "
            "resume=False to start over"
        )
    epoch = int(state["epoch"])
    if epoch > config.epochs:
        raise ConfigError(
            f"{path} is already at epoch {epoch} > epochs={config.epochs}; ask for at least {epoch} epochs or use a "
            "new output folder"
        )
    check_state_dict(model, state[MODEL_STATE_KEY], source=f"checkpoint {path}")
    model.load_state_dict(state[MODEL_STATE_KEY])
    optimizer.load_state_dict(state["optimizer_state"])
    shuffle_rng.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and (device := model_device(model)).type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return epoch, list(state["history"])


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value
