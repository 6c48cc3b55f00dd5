"""The training configuration: plain SGD with step schedules for the learning rate and batch size.

Schedules follow PyTorch's ``MultiStepLR`` convention with 0-based epoch indices: a milestone
``m`` takes effect from epoch index ``m`` on (i.e. after ``m`` completed epochs), so

    lr(e)         = lr · lr_factor^{#{m ∈ lr_milestones : m ≤ e}}
    batch_size(e) = batch_size · batch_factor^{#{m ∈ batch_milestones : m ≤ e}}

Battash et al. (Fig. 2) compare ``lr_milestones=(30, 60), lr_factor=0.1`` with
``batch_milestones=(30, 60), batch_factor=10`` on ResNet-20.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sgdnoise.errors import ConfigError
from sgdnoise.plumbing.checks import is_int, positive_int, positive_number

#: Fields that change the numbers a run produces; a resumed run must agree on all of them.
RESULT_FIELDS = (
    "lr",
    "batch_size",
    "lr_milestones",
    "lr_factor",
    "batch_milestones",
    "batch_factor",
    "seed",
    "drop_last",
)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: SGD without momentum or weight decay (as in the paper), step schedules.

    ``checkpoint_dir``: where ``last.pt`` (resumable state), ``metrics.csv``, ``manifest.json``
    and the final ``model.pt`` go (``None``: nothing is written, no resume);
    ``keep_checkpoints="all"`` also keeps ``epoch_0001.pt`` … (model weights after each epoch).
    ``drop_last=True`` makes every step use exactly ``batch_size(e)`` points (the SGN model
    assumes ``|Ω_k| = B``); the ``N mod B`` left-over points change from epoch to epoch.
    """

    epochs: int
    lr: float
    batch_size: int
    lr_milestones: tuple[int, ...] = ()
    lr_factor: float = 0.1
    batch_milestones: tuple[int, ...] = ()
    batch_factor: int = 10
    seed: int = 0
    drop_last: bool = True
    device: str = "cpu"
    checkpoint_dir: str | None = None
    keep_checkpoints: Literal["last", "all"] = "last"
    resume: bool = True
    progress: bool = False
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_milestones", tuple(self.lr_milestones))
        object.__setattr__(self, "batch_milestones", tuple(self.batch_milestones))
        checks = [(positive_int, name) for name in ("epochs", "batch_size", "batch_factor", "eval_batch_size")]
        checks += [(positive_number, name) for name in ("lr", "lr_factor")]
        problems = [problem for check, name in checks if (problem := _problem(check, getattr(self, name), name))]
        if not is_int(self.seed):
            problems.append(f"seed must be an int; got {self.seed!r}")
        for name in ("lr_milestones", "batch_milestones"):
            ms = getattr(self, name)
            if any(not is_int(m) or m < 1 for m in ms) or list(ms) != sorted(set(ms)):
                problems.append(f"{name} must be strictly increasing positive epoch indices; got {ms}")
        if self.keep_checkpoints not in ("last", "all"):
            problems.append(f"keep_checkpoints must be 'last' or 'all'; got {self.keep_checkpoints!r}")
        if problems:
            raise ConfigError("invalid training config: " + ". ".join(problems))

    def lr_at(self, epoch: int) -> float:
        """Learning rate in 0-based epoch ``epoch``."""
        return self.lr * self.lr_factor ** sum(m <= epoch for m in self.lr_milestones)

    def batch_size_at(self, epoch: int) -> int:
        """Batch size in 0-based epoch ``epoch``."""
        return self.batch_size * self.batch_factor ** sum(m <= epoch for m in self.batch_milestones)

    def to_dict(self) -> dict:
        return asdict(self)


def _problem(check: Callable[..., Any], value: Any, name: str) -> str | None:
    """What ``check`` says is wrong with ``value`` (``None`` when it passes), so that every problem
    of a config is reported at once."""
    try:
        check(value, name, error=ConfigError)
    except ConfigError as exc:
        return str(exc)
    return None
