"""Seeds and generators: every random routine takes ``seed`` as an int, a ``torch.Generator``
or ``None`` (fresh entropy), and the same int always gives the same numbers on the same device."""

from __future__ import annotations

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError

Seed = int | torch.Generator | None


def as_generator(seed: Seed, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` from an int seed, an existing generator, or ``None``."""
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    elif isinstance(seed, int) and not isinstance(seed, bool):
        gen.manual_seed(seed)
    else:
        raise InvalidInputError(f"seed must be an int, a torch.Generator or None; got {type(seed).__name__}")
    return gen


def derived_seed(*keys: int) -> int:
    """A seed in ``[0, 2³²)`` derived from the non-negative ints ``keys`` by
    ``numpy.random.SeedSequence(keys)``: the same keys give the same seed, and a stream seeded
    with it is decorrelated from one seeded with a key itself."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])
