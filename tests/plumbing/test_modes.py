"""module_mode: every submodule's own flag comes back, also when the block raises."""

import pytest
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import evaluation_mode, module_mode


def _model_with_frozen_norm() -> tuple[nn.Module, nn.BatchNorm1d]:
    norm = nn.BatchNorm1d(4)
    model = nn.Sequential(nn.Linear(3, 4), norm, nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))
    model.train()
    norm.eval()  # frozen statistics inside a model in train mode
    return model, norm


def _flags(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_each_submodule_gets_its_own_flag_back(mode):
    model, norm = _model_with_frozen_norm()
    before = _flags(model)
    with module_mode(model, mode):
        assert all(flag == (mode == "train") for flag in _flags(model))
    assert _flags(model) == before and not norm.training and model.training


def test_flags_come_back_when_the_block_raises():
    model, _ = _model_with_frozen_norm()
    before = _flags(model)
    with pytest.raises(ZeroDivisionError), evaluation_mode(model):
        assert not any(_flags(model))
        _ = 1 / 0
    assert _flags(model) == before


def test_unknown_mode_is_refused_before_anything_changes():
    model, _ = _model_with_frozen_norm()
    before = _flags(model)
    with pytest.raises(InvalidInputError, match="'eval' or 'train'"), module_mode(model, "test"):
        pass
    assert _flags(model) == before
