"""The ``sgdnoise`` command line: parsing only; the work is done by library functions.

Each sub-command lives in its own module of this package exposing
``register(subparsers) -> None``, which adds its parser and sets ``func`` to a callable taking
the parsed ``argparse.Namespace`` and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sgdnoise import __version__
from sgdnoise.errors import SgdNoiseError

COMMANDS = ("reproduce", "measure", "fit", "curvature", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgdnoise", description="Measure, model and simulate SGD noise.")
    parser.add_argument("--version", action="version", version=f"sgdnoise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"sgdnoise.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SgdNoiseError as exc:
        print(f"sgdnoise {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sgdnoise {args.command}: interrupted; finished results are on disk, re-run to resume", file=sys.stderr)
        return 130


def console_main() -> int:
    """The ``sgdnoise`` executable: :func:`main` in a process of its own, whose allocator keeps
    freed memory (:func:`sgdnoise.parallel.retain_freed_memory`; chunked noise collection on
    small networks runs 1.3–1.5× faster). ``main`` itself, as called from Python, changes nothing."""
    from sgdnoise.parallel import retain_freed_memory

    retain_freed_memory()
    return main()
