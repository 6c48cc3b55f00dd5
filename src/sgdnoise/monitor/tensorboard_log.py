"""The monitor's TensorBoard events: scalars per layer and histograms of α.

Tags, with ``<layer>`` a parameter name (``fc1.weight``):

- ``noise/alpha/<layer>``, ``noise/scale/<layer>``, ``noise/beta/<layer>``: medians over the
  layer's fitted entries of α and scale (SαS fit) and β (skewed fit);
- ``noise/b_simple/<layer>`` and ``noise/b_simple/model``: the noise scale ``Tr Σ₁/‖G‖²``;
- ``noise/loss``, ``noise/lr``, ``noise/top_eigenvalue`` (when measured);
- histograms ``noise/alpha_hist/<layer>`` and ``noise/alpha_hist/all`` of the fitted entries' α
  (bins of width 0.05 over [0.5, 2]).

The writer is PyTorch's ``torch.utils.tensorboard.SummaryWriter``, which needs the
``tensorboard`` package (``pip install 'sgdnoise[monitor]'``); it is imported only here, when a
monitor writes events.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from sgdnoise.errors import ConfigError

#: Histogram bins of α: 30 bins of width 0.05 over the fits' range [0.5, 2].
ALPHA_BINS = np.linspace(0.5, 2.0, 31)


class TensorBoardLog:
    """Writes each measurement's scalars and α histograms to event files under ``folder``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError(
                "the noise monitor writes TensorBoard events with the tensorboard package, which is not installed: "
                "pip install 'sgdnoise[monitor]' (or tensorboard), or pass tensorboard=False"
            ) from exc
        self.folder = str(folder)
        self.writer = SummaryWriter(log_dir=self.folder)

    def write(self, step: int, layers: pd.DataFrame, entries: pd.DataFrame) -> None:
        """Scalars of the per-layer rows of one measurement and histograms of its entries' α."""
        add = self.writer.add_scalar
        for row in layers.itertuples(index=False):
            for key in ("alpha", "scale", "beta", "b_simple_layer"):
                value = float(getattr(row, key))
                if math.isfinite(value):
                    add(f"noise/{key.removesuffix('_layer')}/{row.layer}", value, step)
        first = layers.iloc[0]
        for key, tag in (("b_simple", "noise/b_simple/model"), ("loss", "noise/loss"), ("lr", "noise/lr")):
            value = float(first[key])
            if math.isfinite(value):
                add(tag, value, step)
        if math.isfinite(float(first["top_eigenvalue"])):
            add("noise/top_eigenvalue", float(first["top_eigenvalue"]), step)
        fitted = entries[~entries["degenerate"].astype(bool) & np.isfinite(entries["alpha"])]
        for layer, group in fitted.groupby("layer", sort=False):
            self.writer.add_histogram(f"noise/alpha_hist/{layer}", group["alpha"].to_numpy(), step, bins=ALPHA_BINS)
        if len(fitted):
            self.writer.add_histogram("noise/alpha_hist/all", fitted["alpha"].to_numpy(), step, bins=ALPHA_BINS)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
