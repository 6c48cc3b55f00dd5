"""Seeds and generators: every random routine takes ``seed`` as an int, a ``torch.Generator``
or ``None`` (fresh entropy), and the same int always gives the same numbers on the same device."""

from __future__ import annotations

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
