"""``sgdnoise fit FILE``: fit Gaussian and SαS laws to every row of a file and compare them."""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.cli.options import add_fit_method


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fit",
        help="fit SαS and Gaussian laws to each row of a file (.npy/.npz/.csv/.parquet)",
        description="Fit symmetric alpha-stable and Gaussian laws to every row (one sample per row) "
        "and compare them by histogram SSE, Chi², KS, log-likelihood and AIC.",
    )
    p.add_argument("file", type=Path, help="samples, one per row: .npy, .npz, .csv or .parquet")
    p.add_argument("--key", help="array name inside an .npz file (default: the first 2-D array)")
    add_fit_method(p)
    p.add_argument(
        "--out", type=Path, help="per-row results, .parquet or .csv (default: FILE_fits.parquet beside FILE)"
    )
    p.add_argument("--show", type=int, default=20, metavar="N", help="rows to print (default 20)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.report import fits_table, summary_table
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.stable import compare_fits, summarize_fits
    from sgdnoise.store import manifest, read_samples, write_json, write_table

    x, names = read_samples(args.file, key=args.key)
    frame = compare_fits(x, method=args.method, names=names)
    summary = summarize_fits(frame)
    out = args.out or args.file.with_name(f"{args.file.stem}_fits.parquet")
    write_table(frame, out)
    write_json(
        manifest(
            {"command": "fit", "file": str(args.file), "key": args.key, "method": args.method},
            rows=len(frame),
            samples_per_row=x.shape[1],
        ),
        out.with_suffix(".json"),
    )
    console = report_console()
    console.print(fits_table(frame, max_rows=args.show))
    console.print(summary_table(summary))
    console.print(f"per-row results: {out}")
    return 0
