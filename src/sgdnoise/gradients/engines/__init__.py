"""The noise engines: three ways to compute mini-batch gradients behind one interface.

- :mod:`.loop` — one ``autograd.grad`` per mini-batch; takes any model and can split a mini-batch
  (:data:`FALLBACK`, where the others fall back to);
- :mod:`.vmap` — ``torch.func.vmap`` over a chunk of mini-batches;
- :mod:`.entries` — per-sample factors, each distinct sample through the model once.

Each implements :class:`~.base.Engine` (:mod:`.base`); :mod:`sgdnoise.gradients.planning` picks
one and sizes its chunks.
"""

from sgdnoise.gradients.engines.base import ChunkTask, Engine, UnsupportedModelError, Workload
from sgdnoise.gradients.engines.entries import ENTRIES, entry_gradients
from sgdnoise.gradients.engines.loop import LOOP, loop_gradients
from sgdnoise.gradients.engines.vmap import VMAP, vmap_gradients

ENGINES: tuple[Engine, ...] = (LOOP, VMAP, ENTRIES)
FALLBACK: Engine = LOOP

__all__ = [
    "ENGINES",
    "ENTRIES",
    "FALLBACK",
    "LOOP",
    "VMAP",
    "ChunkTask",
    "Engine",
    "UnsupportedModelError",
    "Workload",
    "entry_gradients",
    "loop_gradients",
    "vmap_gradients",
]
