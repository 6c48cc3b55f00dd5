"""Option parsing shared by the sub-commands: KEY=VALUE options, and choices read from the library
only when they are needed (registering a command imports nothing heavy)."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from sgdnoise.errors import ConfigError


def parse_options(pairs: list[str], flag: str) -> dict[str, Any]:
    """``["width=256", "activation=tanh"]`` → ``{"width": 256, "activation": "tanh"}``: each value a
    Python literal if it parses as one, else a string."""
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


class ChoicesOf(Sequence[str]):
    """The allowed values of an option, the sequence ``name`` of ``module``, imported on first use.

    argparse checks a given value against ``choices`` and lists them in the command's help, so the
    library module (and torch behind it) is loaded only when a command is run or its help shown,
    not when ``sgdnoise --help`` builds the parser. Pass an explicit ``metavar`` with it (argparse
    would otherwise list the choices while adding the option) and write ``%(choices)s`` in ``help``.
    """

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    @cached_property
    def values(self) -> tuple[str, ...]:
        """The choices, read from the library."""
        return tuple(getattr(importlib.import_module(self.module), self.name))

    def __getitem__(self, index):
        return self.values[index]

    def __len__(self) -> int:
        return len(self.values)
