"""KEY=VALUE options of the sub-commands (--model-opt, --data-opt)."""

import pytest

from sgdnoise.cli.options import parse_options
from sgdnoise.errors import ConfigError


def test_parse_options():
    assert parse_options(["width=256", "activation=tanh", "root=~/data"], "--model-opt") == {
        "width": 256,
        "activation": "tanh",
        "root": "~/data",
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_options(["width"], "--model-opt")
