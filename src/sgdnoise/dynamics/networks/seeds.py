"""What seed ``s`` of an SGD ensemble is: its mini-batch stream and its starting weights.

Seed ``s``'s mini-batches ``Ω_1^s, Ω_2^s, …`` are :func:`sgdnoise.plumbing.sample_batch_indices`
on a ``torch.Generator`` seeded with ``s``, row after row (uniform random B-subsets, independent
across steps). That sampler consumes its generator row by row, so the stream does not depend on
how many rows are drawn at once: an ensemble draws each seed's next block of steps in one call.
With ``init="random"`` its starting weights come from the model's ``reset_parameters`` under
``torch.manual_seed(init_seed(s))``, a seed decorrelated from the batch stream.

All seeds' parameters are held stacked, :data:`Params` ``{name: (S, *shape)}``, seed axis first.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import positive_int, sample_batch_indices
from sgdnoise.plumbing.checks import is_int
from sgdnoise.rng import as_generator, derived_seed

Params = dict[str, torch.Tensor]

DEFAULT_BLOCK_STEPS = 256


def batch_indices(seed: int, num_points: int, batch_size: int, steps: int, *, start: int = 0) -> torch.Tensor:
    """Mini-batches ``start+1 … start+steps`` of seed ``seed``'s stream, int64 ``(steps, B)``."""
    positive_int(steps, "steps")
    positive_int(start, "start", minimum=0)
    gen = as_generator(seed)
    for done in range(0, start, DEFAULT_BLOCK_STEPS):  # skip the first `start` batches, a bounded block at a time
        sample_batch_indices(num_points, batch_size, min(DEFAULT_BLOCK_STEPS, start - done), gen)
    return sample_batch_indices(num_points, batch_size, steps, gen)


def init_seed(seed: int) -> int:
    """Seed of the torch RNG that draws seed ``seed``'s initial weights when ``init="random"``:
    ``numpy.random.SeedSequence(seed).generate_state(1)[0]`` (decorrelated from its batch stream)."""
    return derived_seed(seed)


def checked_seeds(seeds: Sequence[int], *, non_negative: bool = False) -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct ints (``≥ 0`` with ``non_negative``, for seeds that feed a
    ``numpy.random.SeedSequence``); else :class:`InvalidInputError`."""
    seeds = tuple(seeds)
    kind = "non-negative ints" if non_negative else "ints"
    if not seeds or not all(is_int(s) and (s >= 0 or not non_negative) for s in seeds):
        raise InvalidInputError(f"seeds must be a non-empty sequence of {kind}; got {seeds[:5]!r}")
    if len(set(seeds)) != len(seeds):
        raise InvalidInputError("seeds must be distinct (equal seeds give identical runs)")
    return seeds


def check_batch_size(batch_size: int, num_points: int) -> None:
    """Raise :class:`InvalidInputError` unless a seed's mini-batches of ``batch_size`` distinct
    points fit in the ``num_points`` of the data."""
    if batch_size > num_points:
        raise InvalidInputError(f"batch_size={batch_size} is larger than the data set ({num_points} points); lower it")


def starting_params(model: nn.Module, init: Any, seeds: tuple[int, ...]) -> Params:
    """Stacked ``{name: (S, *shape)}`` starts for every parameter of ``model``: its own weights
    (``init=None``), one state_dict for all seeds, one per seed, or ``"random"``
    (``reset_parameters`` under ``torch.manual_seed(init_seed(s))``)."""
    names = [n for n, p in model.named_parameters()]
    if init is None:
        init = dict(model.named_parameters())
    if isinstance(init, str):
        if init != "random":
            raise InvalidInputError(f"init must be None, a state_dict, a list of state_dicts or 'random'; got {init!r}")
        init = [_reset(model, s) for s in seeds]
    if isinstance(init, Mapping):
        init = [init] * len(seeds)
    if not isinstance(init, Sequence) or len(init) != len(seeds):
        raise InvalidInputError(
            f"init must be one state_dict or one per seed ({len(seeds)}); got {type(init).__name__}"
        )
    ref = dict(model.named_parameters())
    stacked = {}
    for n in names:
        try:
            values = [sd[n].detach() for sd in init]
        except KeyError:
            raise InvalidInputError(f"init has no entry {n!r}; it must hold every parameter of the model") from None
        if any(v.shape != ref[n].shape for v in values):
            raise InvalidInputError(
                f"init[{n!r}] has shape {tuple(values[0].shape)}; the model's is {tuple(ref[n].shape)}"
            )
        stacked[n] = torch.stack(values).to(dtype=ref[n].dtype, device=ref[n].device)
    return stacked


def _reset(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Fresh weights of a copy of ``model`` for seed ``seed`` (the global torch RNG is left as it was)."""
    twin = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        for module in twin.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return dict(twin.named_parameters())


def flat(params: Params) -> torch.Tensor:
    """Every seed's parameters as one row, ``(S, D)``, tensors flattened in ``params`` order."""
    return torch.cat([p.reshape(p.shape[0], -1) for p in params.values()], dim=1)
