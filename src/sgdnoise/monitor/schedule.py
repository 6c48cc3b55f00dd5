"""When the monitor measures: every N optimizer steps, at chosen steps and epoch ends, when the
learning rate changes, and at the end of training.

Steps are optimizer steps counted from 1 (the weights after step ``s``); epochs are 1-based (the
weights after the last step of epoch ``e``). A learning-rate milestone — the rate changes after
holding for at least two steps, as in a step schedule — is seen at the first step reported with
the new rate, so the measurement sits at the milestone (the noise at given weights does not depend
on the rate; what changes after a decay is where SGD takes the weights, which ``after_lr_change``
and the ``every`` measurements that follow show). A rate that moves at every step (linear or
cosine decay, warm-up) has no milestones.

The default, ``every=2000`` with measurements at LR changes and at the end, keeps the monitor's
cost a few percent of training even for a small MLP, whose steps are cheapest next to a
measurement: one measurement costs the ``K·B`` sample gradients of its mini-batches, two fits
and the writes (see :mod:`sgdnoise.monitor.estimate`), so the overhead is that cost in training
steps over ``every`` (``benchmarks/bench_monitor.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sgdnoise.errors import ConfigError
from sgdnoise.plumbing.checks import is_int

DEFAULT_EVERY = 2000


@dataclass(frozen=True)
class MonitorSchedule:
    """Which steps the monitor measures.

    every : measure after every ``every``-th optimizer step (steps ``every, 2·every, …``);
        ``None`` turns the periodic measurements off.
    steps : extra 1-based optimizer steps to measure after.
    epochs : 1-based epochs whose last step is measured (needs the loop to report epoch ends:
        :meth:`NoiseMonitor.epoch_end`, the Lightning and Hugging Face callbacks do).
    lr_change : measure at the first step reported with a new learning rate, when the old one had
        held for at least two steps (a step schedule's milestone; a rate that changes at every
        step, as in a linear or cosine decay or a warm-up, triggers nothing).
    after_lr_change : also measure this many steps after each rate change (e.g. ``(100, 500)``:
        how the noise settles once the rate has dropped).
    at_end : measure the final weights when training ends (:meth:`NoiseMonitor.finish`), unless
        the last step was measured already.
    """

    every: int | None = DEFAULT_EVERY
    steps: tuple[int, ...] = ()
    epochs: tuple[int, ...] = ()
    lr_change: bool = True
    after_lr_change: tuple[int, ...] = ()
    at_end: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "epochs", "after_lr_change"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = []
        if self.every is not None and (not is_int(self.every) or self.every < 1):
            problems.append(f"every must be a positive int or None; got {self.every!r}")
        for name in ("steps", "epochs", "after_lr_change"):
            values = getattr(self, name)
            if any(not is_int(v) or v < 1 for v in values):
                problems.append(f"{name} must hold positive ints (1-based); got {values}")
        if problems:
            raise ConfigError("invalid monitor schedule: " + ". ".join(problems))

    def due_at_step(self, step: int, lr_changed: bool = False, since_change: int | None = None) -> str | None:
        """Why step ``step`` is measured (``"every"``, ``"step"``, ``"lr_change"``,
        ``"after_lr_change"``), or ``None``. ``since_change``: steps since the last rate change."""
        if self.every is not None and step % self.every == 0:
            return "every"
        if step in self.steps:
            return "step"
        if self.lr_change and lr_changed:
            return "lr_change"
        if since_change is not None and since_change in self.after_lr_change:
            return "after_lr_change"
        return None

    def due_at_epoch_end(self, epoch: int) -> str | None:
        """``"epoch"`` when the end of 1-based epoch ``epoch`` is measured, else ``None``."""
        return "epoch" if epoch in self.epochs else None

    def count(self, total_steps: int, epoch_steps: int | None = None, lr_changes: int = 0) -> int:
        """How many measurements a run of ``total_steps`` steps takes (``epoch_steps`` steps per
        epoch, ``lr_changes`` rate changes), counting a step due for several reasons once (the
        measurements at and after rate changes are counted as if they fell on no other)."""
        steps = set(range(self.every, total_steps + 1, self.every)) if self.every else set()
        steps |= {s for s in self.steps if s <= total_steps}
        if epoch_steps:
            steps |= {e * epoch_steps for e in self.epochs if e * epoch_steps <= total_steps}
        extra = lr_changes * (int(self.lr_change) + len(self.after_lr_change))
        return len(steps) + extra + int(self.at_end and total_steps > 0 and total_steps not in steps)

    def to_dict(self) -> dict:
        return asdict(self)
