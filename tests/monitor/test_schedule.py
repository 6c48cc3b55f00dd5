"""MonitorSchedule: which steps and epoch ends are measured, and bad schedules."""

import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.monitor import MonitorSchedule


def test_due_steps_by_reason():
    s = MonitorSchedule(every=10, steps=(3,), epochs=(2,), lr_change=True)
    due = {step: s.due_at_step(step) for step in range(1, 31)}
    assert [k for k, v in due.items() if v] == [3, 10, 20, 30]
    assert due[3] == "step" and due[20] == "every"
    assert s.due_at_step(7, lr_changed=True) == "lr_change"
    assert MonitorSchedule(lr_change=False).due_at_step(7, lr_changed=True) is None
    assert s.due_at_epoch_end(2) == "epoch" and s.due_at_epoch_end(1) is None
    assert MonitorSchedule(every=None).due_at_step(1000) is None
    after = MonitorSchedule(every=None, after_lr_change=(5,))
    assert after.due_at_step(37, since_change=5) == "after_lr_change" and after.due_at_step(37, since_change=4) is None


def test_count_matches_the_due_steps():
    s = MonitorSchedule(every=10, steps=(3, 10), epochs=(1, 5), at_end=True)
    # every: 10..40, steps: 3 (10 twice), epochs of 9 steps: 9 (45 is past the end), end: 44
    assert s.count(44, epoch_steps=9) == 4 + 1 + 1 + 1
    assert s.count(40, epoch_steps=9) == 4 + 1 + 1  # the end is step 40, measured already
    assert s.count(44, lr_changes=2) == 4 + 1 + 2 + 1
    assert MonitorSchedule(every=None, after_lr_change=(3, 9), at_end=False).count(44, lr_changes=2) == 2 * 3


@pytest.mark.parametrize(
    "kwargs",
    [{"every": 0}, {"every": 2.5}, {"steps": (0,)}, {"epochs": (1, -1)}, {"steps": ("a",)}, {"after_lr_change": (0,)}],
)
def test_bad_schedules_raise(kwargs):
    with pytest.raises(ConfigError, match="invalid monitor schedule"):
        MonitorSchedule(**kwargs)
