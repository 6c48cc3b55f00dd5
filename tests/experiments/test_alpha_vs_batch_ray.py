"""The α-against-B sweep on a local Ray instance: one task per (weights, B), the in-process numbers."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from sgdnoise.experiments.alpha_vs_batch import alpha_against_batch
from sgdnoise.parallel import use_executor

from . import test_alpha_vs_batch
from .test_alpha_vs_batch import _two_states_at_two_sizes

ray = pytest.importorskip("ray")
for module in (sys.modules[__name__], test_alpha_vs_batch):  # workers cannot import test modules
    ray.cloudpickle.register_pickle_by_value(module)


def test_ray_gives_the_in_process_sweep(ray_executor):
    args, kwargs = _two_states_at_two_sizes()
    here = alpha_against_batch(*args, **kwargs)
    with use_executor(ray_executor):
        there = alpha_against_batch(*args, **kwargs)
    pd.testing.assert_frame_equal(here.entries, there.entries, check_exact=True)
    pd.testing.assert_frame_equal(here.layers, there.layers, check_exact=True)
    assert list(there.layers["weights"]) == ["a", "a", "b", "b"] and list(there.layers["batch_size"]) == [4, 1, 4, 1]
