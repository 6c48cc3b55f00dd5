"""``sgdnoise study``: the analyses a config chooses, on your own model and data, as one report.

    sgdnoise study --model mypkg.nets:make_model --data mypkg.data:load --config study.toml --out runs/study
    sgdnoise study --example-config > study.toml

The work is :func:`sgdnoise.studies.study.study_from_specs`; this module only parses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.cli.options import add_executor_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "study",
        help="run chosen analyses on your own model and data; report in DIR/index.html",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", help="registry name (mlp, cnn, ...) or import path pkg.module:function returning an nn.Module"
    )
    p.add_argument(
        "--data",
        help="registry name (digits, ...) or import path of a function returning a Dataset, (X, y) or DataLoader",
    )
    p.add_argument("--checkpoint", help="weights to load into the model (a state_dict, e.g. from `sgdnoise train`)")
    p.add_argument(
        "--loss", help="cross-entropy, mse or an import path pkg.module:function (default: from the targets)"
    )
    p.add_argument("--config", type=Path, help="study.toml choosing and sizing the analyses (see --example-config)")
    p.add_argument("--out", type=Path, default=Path("study"), help="output folder (default: ./study)")
    p.add_argument("--example-config", action="store_true", help="print a commented config with the defaults and exit")
    add_executor_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.studies.config import EXAMPLE, read_config

    if args.example_config:
        print(EXAMPLE, end="")
        return 0
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.studies.study import study_from_specs

    config = read_config(args.config)
    console = report_console()
    study = study_from_specs(
        config,
        model=args.model,
        data=args.data,
        loss=args.loss,
        checkpoint=args.checkpoint,
        out=args.out,
        console=console,
    )
    console.print(f"report: open {study.files['html']} in a browser")
    return 0
