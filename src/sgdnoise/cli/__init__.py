"""The ``sgdnoise`` command line: parsing and printing only; the work is done by library functions.

Each sub-command lives in its own module of this package exposing
``register(subparsers) -> None``, which adds its parser and sets ``func`` to a callable taking
the parsed ``argparse.Namespace`` and returning an exit code. Command modules import the
library inside ``func`` (and read option choices through :class:`~sgdnoise.cli.options.ChoicesOf`),
so building the parser — all that ``sgdnoise --help`` does — loads neither torch nor the recipes.
A command that takes ``--executor`` (:func:`~sgdnoise.cli.options.add_executor_options`) runs
inside :func:`sgdnoise.parallel.running_on`: its library calls' tasks go to that executor.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sgdnoise import __version__
from sgdnoise.errors import SgdNoiseError

COMMANDS = ("reproduce", "study", "measure", "fit", "curvature", "train", "escape")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgdnoise", description="Measure, model and simulate SGD noise.")
    parser.add_argument("--version", action="version", version=f"sgdnoise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"sgdnoise.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command; its exit code."""
    return _run(build_parser().parse_args(argv))


def console_main() -> int:
    """The ``sgdnoise`` executable: :func:`main` in a process of its own, whose allocator keeps
    freed memory (:func:`sgdnoise.parallel.retain_freed_memory`, so chunked noise collection does
    not fault in the buffers it frees and allocates again), set once the command line has parsed
    (``--help`` and parse errors return before). ``main`` itself, as called from Python, changes
    nothing."""
    args = build_parser().parse_args()
    from sgdnoise.parallel import retain_freed_memory

    retain_freed_memory()
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if getattr(args, "executor", None) is None:
            return int(args.func(args) or 0)
        from sgdnoise.parallel import running_on  # commands with --executor: their tasks run there

        with running_on(args.executor, address=args.address):
            return int(args.func(args) or 0)
    except SgdNoiseError as exc:
        print(f"sgdnoise {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sgdnoise {args.command}: interrupted; finished results are on disk, re-run to resume", file=sys.stderr)
        return 130
