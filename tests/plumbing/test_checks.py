"""Argument checks: what passes, what is refused, and which error type is raised."""

import math

import pytest
import torch
from torch import nn

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.plumbing import model_device, positive_int, positive_number


def test_positive_int_accepts_ints_at_or_above_the_minimum():
    assert positive_int(3, "k") == 3
    assert positive_int(0, "start", minimum=0) == 0


@pytest.mark.parametrize("value", [0, -2, 1.0, True, "3", None])
def test_positive_int_refuses_other_values_and_names_the_argument(value):
    with pytest.raises(InvalidInputError, match=r"num_batches must be an int ≥ 1"):
        positive_int(value, "num_batches")


def test_checks_raise_the_error_type_asked_for():
    with pytest.raises(ConfigError):
        positive_int(0, "epochs", error=ConfigError)
    with pytest.raises(ConfigError):
        positive_number(-1.0, "lr", error=ConfigError)


@pytest.mark.parametrize("value", [0, -1e-3, math.inf, math.nan, True, "0.1"])
def test_positive_number_refuses_non_positive_non_finite_and_non_numbers(value):
    with pytest.raises(InvalidInputError, match="lr must be a finite number > 0"):
        positive_number(value, "lr")


def test_positive_number_returns_a_float():
    assert positive_number(2, "lr") == 2.0 and isinstance(positive_number(2, "lr"), float)


def test_model_device_needs_a_module_with_parameters():
    assert model_device(nn.Linear(2, 3)) == torch.device("cpu")
    for bad in (nn.ReLU(), "mlp", None):
        with pytest.raises(InvalidInputError, match=r"model must be a torch\.nn\.Module with parameters"):
            model_device(bad)
