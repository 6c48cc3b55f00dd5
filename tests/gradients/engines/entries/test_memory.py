"""The entries engine's memory rule: what each kind of tensor adds."""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.gradients import select_parameters
from sgdnoise.gradients.engines import ENTRIES
from sgdnoise.gradients.planning import Planner
from sgdnoise.gradients.probe import probe_model


def test_entry_floats_of_each_kind_of_tensor():
    """G: selected entries × positions (or a 1-D tensor's size); J and L: the input + output floats
    of a whole weight with few positions (summed per mini-batch); W: twice a piece of per-sample
    gradients of a whole weight with many positions."""
    from sgdnoise.gradients.engines.entries.memory import EntryFloats, entry_floats
    from sgdnoise.gradients.engines.entries.paths import PER_SAMPLE_POSITIONS, WEIGHT_PIECE_BYTES

    def floats(model, x, params=None, method="auto"):
        kept = select_parameters({n: p.shape for n, p in model.named_parameters()}, params, seed=0)
        planner = Planner(model, x, kept, batch_size=2, num_batches=4, num_points=10, method=method)
        return entry_floats(planner.workload(ENTRIES))

    assert PER_SAMPLE_POSITIONS == 16  # the 4×4 conv below is per sample, the 3×3 one per mini-batch
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 2), nn.Flatten(), nn.Linear(2 * 3 * 3, 3))
    x = torch.randn(1, 1, 4, 4)
    probe = probe_model(model, x, owners={"0", "1", "3"})
    assert probe.positions == {"0": 16, "1": 9, "3": 1}
    assert probe.factors == {"0": 16 + 32, "1": 32 + 18, "3": 18 + 3}  # input + output floats
    whole = floats(model, x)
    assert whole == EntryFloats(per_sample=3, joined=50 + 21, gathered=50, weight_piece=2 * WEIGHT_PIECE_BYTES // 4)
    sampled = floats(model, x, params=2, method="entries")
    assert sampled == EntryFloats(per_sample=2 * 16, joined=0, gathered=0, weight_piece=0)  # 2 entries × 4×4 pixels
    # a whole 2-D weight outside Linear/Conv2d (a LayerNorm over two axes) is a per-sample product, as in the engine
    norm = nn.Sequential(nn.LayerNorm((3, 4)), nn.Flatten(), nn.Linear(12, 2))
    assert floats(norm, torch.randn(1, 3, 4)) == EntryFloats(per_sample=12, joined=14, gathered=14)
    # a wide conv summed per mini-batch: its scratch for one mini-batch, (T + 1)·|W|, passes a piece
    wide = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, bias=False))
    assert floats(wide, torch.randn(1, 256, 2, 2)).weight_piece == 2 * 5 * 256 * 256 * 9
