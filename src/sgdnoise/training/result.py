"""What :func:`sgdnoise.training.train` returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from torch import nn

from sgdnoise.training.config import TrainConfig

#: Columns of :attr:`TrainResult.history`, one row per epoch (``test_*`` only with eval data;
#: accuracies are NaN for regression).
HISTORY_COLUMNS = (
    "epoch",
    "lr",
    "batch_size",
    "steps",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "seconds",
)


@dataclass(frozen=True)
class TrainResult:
    """A finished run: the trained ``model`` (same object that was passed in), per-epoch
    ``history`` (columns :data:`HISTORY_COLUMNS`; ``train_*`` are averages over the epoch's
    mini-batches at the weights of each step, ``test_*`` are full passes after the epoch in
    eval mode), how many epochs came from a checkpoint, and where files were written."""

    model: nn.Module
    history: pd.DataFrame
    config: TrainConfig
    resumed_from_epoch: int
    checkpoint_dir: Path | None

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's metrics."""
        return self.history.iloc[-1].to_dict()

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "history": self.history.to_dict(orient="records"),
            "final": self.final,
            "resumed_from_epoch": self.resumed_from_epoch,
            "checkpoint_dir": None if self.checkpoint_dir is None else str(self.checkpoint_dir),
        }
