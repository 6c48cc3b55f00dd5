"""Option parsing shared by the sub-commands."""

from __future__ import annotations

import ast
from typing import Any

from sgdnoise.errors import ConfigError


def parse_options(pairs: list[str], flag: str) -> dict[str, Any]:
    """``["width=256", "activation=tanh"]`` → ``{"width": 256, "activation": "tanh"}`` (Python literals, else strings)."""
    options = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"{flag} expects KEY=VALUE; got {pair!r}")
        try:
            options[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            options[key] = text
    return options
