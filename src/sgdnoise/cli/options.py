"""Options shared by the sub-commands: the options several commands take (the SαS estimator, the
KEY=VALUE options of the model and the data), KEY=VALUE parsing, and choices read from the
library only when they are needed (registering a command imports nothing heavy)."""

from __future__ import annotations

import argparse
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


def add_fit_method(parser: argparse.ArgumentParser, default: str | None = "cf", note: str = "cf") -> None:
    """``--method``: the SαS estimator, one of :data:`sgdnoise.stable.METHODS` (default ``default``,
    described in the help as ``note``)."""
    parser.add_argument(
        "--method",
        choices=ChoicesOf("sgdnoise.stable", "METHODS"),
        default=default,
        metavar="METHOD",
        help=f"SαS estimator: %(choices)s (default: {note})",
    )


LAW_CHOICES = {
    "sas": ("gauss", "sas"),
    "stable": ("gauss", "sas", "stable"),
    "t": ("gauss", "t"),
    "mixture": ("gauss", "mixture"),
    "all": ("gauss", "sas", "stable", "t", "mixture"),
}


def add_law_option(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    """``--law``: which laws to compare per row (:data:`LAW_CHOICES`: each with the Gaussian as baseline)."""
    parser.add_argument(
        "--law",
        choices=tuple(LAW_CHOICES),
        default=default,
        help=f"laws compared per row: sas (Gaussian vs SαS), stable (+ skewed stable and the test of β = 0), "
        f"t (Gaussian vs Student-t), mixture (Gaussian vs two-Gaussian mixture), all; {what} (default {default})",
    )


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """``--model-opt`` and ``--data-opt``: repeatable KEY=VALUE options of the model and the dataset
    (read by :func:`network_options`)."""
    parser.add_argument(
        "--model-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model option, e.g. width=256 or batch_norm=True (repeatable)",
    )
    parser.add_argument(
        "--data-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option, e.g. root=~/data (repeatable)",
    )


def network_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parsed ``(--model-opt, --data-opt)`` options of :func:`add_network_options`."""
    return parse_options(args.model_opt, "--model-opt"), parse_options(args.data_opt, "--data-opt")


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


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """``--executor`` and ``--address``: where the command's independent tasks run."""
    parser.add_argument(
        "--executor",
        choices=("in-process", "ray"),
        default="in-process",
        help="where independent tasks (sweep points and seeds, steps, chunks of mini-batches) run: in this process "
        "(default) or on Ray (a local instance started on demand, or the cluster at --address; needs "
        "pip install 'sgdnoise[ray]'); the numbers are the same",
    )
    parser.add_argument(
        "--address", help="with --executor ray: join the Ray cluster at this address (e.g. auto, ray://host:10001)"
    )
