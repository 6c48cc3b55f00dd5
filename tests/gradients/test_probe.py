"""The probe: parameters, leaf outputs, and each owner module's positions, factors and class."""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.gradients.probe import probe_model


def test_probe_counts_parameters_and_leaf_outputs():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))
    probe = probe_model(model, torch.randn(1, 5), owners={"0"})
    assert probe.num_params == 5 * 7 + 7 + 7 * 2 + 2
    assert probe.activations_per_sample == 7 + 7 + 2  # Linear, ReLU, Linear outputs of one sample
    assert probe.itemsize == 4 and probe.positions == {"0": 1}  # one position: no tokens or pixels
    assert probe.owner_types == {"0": nn.Linear}


def test_probe_counts_output_positions_per_owner():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    probe = probe_model(model, torch.randn(1, 1, 4, 4), owners={"0", "2"})
    assert probe.positions == {"0": 16, "2": 1}  # 4×4 pixels of the conv output; one for the Linear


def test_probe_counts_module_calls():
    """A module called twice counts twice: the loop pays its fixed cost per call."""
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    probe = probe_model(model, torch.randn(1, 4), owners=set())
    assert probe.module_calls == 3 and probe.activations_per_sample == 4 + 4 + 4


class _Dot(nn.Module):
    """A custom module that owns its parameter and returns one number per sample: output shape (B,)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x @ self.w


def test_probe_takes_an_owner_whose_output_has_only_the_batch_axis():
    probe = probe_model(_Dot(), torch.randn(1, 3), owners={""})
    assert probe.positions == {"": 1} and probe.factors == {"": 3 + 1} and probe.num_params == 3
