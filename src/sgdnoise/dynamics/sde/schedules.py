"""Learning-rate schedulers ``s_t`` (Battash et al. eq. 3): the noise of coordinate l is scaled by
``s_t^{(α_l−1)/α_l}`` (``s_t^{1/2}`` for Gaussian noise). Each maps times (K,) to values (K,)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sgdnoise.errors import InvalidInputError


class Schedule:
    """Base class: ``__call__(t: (K,) tensor) -> (K,) tensor`` of positive values."""

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ConstantSchedule(Schedule):
    """``s_t = 1``."""

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)


class ExponentialSchedule(Schedule):
    """Battash et al.'s "exponential" scheduler ``s_t = (t + offset)^{γ−1}``, cooling rate γ ∈ (0, 1].

    The paper writes ``t^{γ−1}``, which is infinite at t = 0 for γ < 1; ``offset`` > 0 (default 1,
    so ``s_0 = 1``) shifts the clock. γ = 1 is the constant schedule.
    """

    def __init__(self, gamma: float, offset: float = 1.0):
        if not (0 < gamma <= 1):
            raise InvalidInputError(f"gamma must lie in (0, 1]; got {gamma!r}")
        if not offset > 0:
            raise InvalidInputError(f"offset must be > 0 (t^(γ−1) is infinite at t = 0); got {offset!r}")
        self.gamma, self.offset = float(gamma), float(offset)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return (t + self.offset).pow(self.gamma - 1.0)


class MultiStepSchedule(Schedule):
    """``s_t = factor^k`` with k the number of ``milestones`` ≤ t (e.g. ÷10 at each milestone)."""

    def __init__(self, milestones: Sequence[float], factor: float = 0.1):
        ms = sorted(float(m) for m in milestones)
        if not ms or ms[0] < 0:
            raise InvalidInputError(f"milestones must be a non-empty list of times ≥ 0; got {milestones!r}")
        if not factor > 0:
            raise InvalidInputError(f"factor must be > 0; got {factor!r}")
        self.milestones, self.factor = tuple(ms), float(factor)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        k = torch.bucketize(t, torch.tensor(self.milestones, dtype=t.dtype, device=t.device), right=True)
        return torch.full_like(t, self.factor).pow(k)
