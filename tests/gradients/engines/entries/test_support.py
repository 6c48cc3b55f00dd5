"""What the entries engine takes: entries of Linear, Conv2d (zero padding), BatchNorm with running
statistics and LayerNorm; anything else is named, with why."""

from __future__ import annotations

import pytest
from torch import nn

from sgdnoise.gradients import select_parameters
from sgdnoise.gradients.engines import ENTRIES

from ...cases import make_case


class _Scaled(nn.Linear):
    """A Linear with a parameter of its own besides weight and bias."""

    def __init__(self) -> None:
        super().__init__(3, 2)
        self.scale = nn.Parameter(nn.init.ones_(self.bias.new_empty(2)))


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), None),
        (nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular")), "padding_mode='circular'"),
        (nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)), "0 has no running statistics"),
        (nn.Sequential(nn.Linear(3, 4), nn.Embedding(5, 3)), "parameter 1.weight belongs to a Embedding"),
        (nn.Sequential(_Scaled()), "parameter 0.scale belongs to a _Scaled"),
    ],
)
def test_unsupported_entries_are_named(model, reason):
    selection = select_parameters({n: p.shape for n, p in model.named_parameters()})
    why = ENTRIES.supports(model, selection)
    assert why is None if reason is None else reason in why


def test_the_supported_layers_of_an_unsupported_model_can_be_computed():
    model, _ = make_case("transformer")
    shapes = {n: p.shape for n, p in model.named_parameters()}
    assert "MultiheadAttention" in ENTRIES.supports(model, select_parameters(shapes))
    assert ENTRIES.supports(model, select_parameters(shapes, ["block.linear*", "block.norm*", "head.*"])) is None
