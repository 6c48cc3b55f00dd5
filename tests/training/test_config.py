"""TrainConfig: validation and step schedules."""

import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.training import TrainConfig


def test_schedules_follow_multistep_convention():
    c = TrainConfig(
        epochs=10, lr=0.1, batch_size=8, lr_milestones=(3, 6), lr_factor=0.5, batch_milestones=(4,), batch_factor=4
    )
    # Hand-computed: milestone m applies from 0-based epoch m on.
    assert [c.lr_at(e) for e in range(8)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert [c.batch_size_at(e) for e in range(6)] == [8, 8, 8, 8, 32, 32]


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"lr_milestones": (5, 3)}, "lr_milestones"),
        ({"batch_milestones": (0,)}, "batch_milestones"),
        ({"keep_checkpoints": "some"}, "keep_checkpoints"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_invalid_values_are_named(kw, word):
    base = {"epochs": 2, "lr": 0.1, "batch_size": 4}
    with pytest.raises(ConfigError, match=word):
        TrainConfig(**{**base, **kw})


def test_to_dict_round_trips():
    c = TrainConfig(epochs=2, lr=0.1, batch_size=4, lr_milestones=[1])
    assert TrainConfig(**c.to_dict()) == c and c.lr_milestones == (1,)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        TrainConfig(epochs=0, lr=float("inf"), batch_size=4, batch_factor=True)
    assert all(word in str(err.value) for word in ("epochs must be an int ≥ 1", "lr must be", "batch_factor"))
