"""Options shared by the sub-commands: KEY=VALUE (--model-opt, --data-opt) and choices read from the library."""

import importlib

import pytest

from sgdnoise.cli import main
from sgdnoise.cli.options import ChoicesOf, parse_options
from sgdnoise.errors import ConfigError


def test_parse_options():
    assert parse_options(["width=256", "activation=tanh", "root=~/data"], "--model-opt") == {
        "width": 256,
        "activation": "tanh",
        "root": "~/data",
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_options(["width"], "--model-opt")


@pytest.mark.parametrize("module, name", [("sgdnoise.stable", "METHODS"), ("sgdnoise.gradients.planning", "METHODS")])
def test_choices_are_the_library_values(module, name):
    values = getattr(importlib.import_module(module), name)
    choices = ChoicesOf(module, name)
    assert list(choices) == list(values) and len(choices) == len(values) and values[0] in choices
    assert "no-such-choice" not in choices


def test_commands_check_and_list_their_choices(capsys):
    with pytest.raises(SystemExit):
        main(["measure", "--engine", "gpu"])
    assert "invalid choice: 'gpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert "SαS estimator: cf, quantile, tail, mle" in capsys.readouterr().out
