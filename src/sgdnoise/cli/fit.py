"""``sgdnoise fit FILE``: classify every row of a file and compare laws on it (Gaussian vs SαS by
default; ``--law`` adds the skewed stable law, Student-t, a two-Gaussian mixture or all)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.cli.options import LAW_CHOICES, add_fit_method, add_law_option


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fit",
        help="fit SαS and Gaussian laws (or --law ...) to each row of a file (.npy/.npz/.csv/.parquet)",
        description="Classify every row (one sample per row: degenerate, spike_with_tail, multimodal, ordinary) and "
        "fit symmetric alpha-stable and Gaussian laws to it, compared by histogram SSE, Chi², KS, log-likelihood and "
        "AIC; with --law stable/t/mixture/all, compare those laws by log-likelihood, AIC, BIC, KS and Hellinger.",
    )
    p.add_argument("file", type=Path, help="samples, one per row: .npy, .npz, .csv or .parquet")
    p.add_argument("--key", help="array name inside an .npz file (default: the first 2-D array)")
    add_law_option(p, "sas", "sas keeps the Gaussian-vs-SαS table of compare_fits")
    add_fit_method(p, default=None, note="cf with --law sas, mle otherwise, which the test of β = 0 needs")
    p.add_argument(
        "--out", type=Path, help="per-row results, .parquet or .csv (default: FILE_fits.parquet beside FILE)"
    )
    p.add_argument("--show", type=int, default=20, metavar="N", help="rows to print (default 20)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.report import class_caption, fits_table, laws_summary_table, laws_table, summary_table
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.stable import classify_entries, compare_fits, compare_laws, summarize_fits, summarize_laws
    from sgdnoise.stable.classes import class_counts
    from sgdnoise.store import manifest, read_samples, write_json, write_table

    x, names = read_samples(args.file, key=args.key)
    console = report_console()
    if args.law == "sas":
        method = args.method or "cf"
        classes = classify_entries(x, names=names)
        frame = compare_fits(x, method=method, names=names)
        frame = frame.join(classes.drop(columns="name"))
        summary = summarize_fits(frame)
        tables = [fits_table(frame, max_rows=args.show), summary_table(summary)]
        spikes = classes.loc[classes["class"] == "spike_with_tail", "atom_weight"]
        tables.append(class_caption({**class_counts(classes["class"]), "atom_weight_median": spikes.median()}) + ".")
    else:
        method = args.method or "mle"
        frame = compare_laws(x, laws=LAW_CHOICES[args.law], method=method, names=names)
        summary = summarize_laws(frame)
        tables = [laws_table(frame, max_rows=args.show), laws_summary_table(summary)]
    out = args.out or args.file.with_name(f"{args.file.stem}_fits.parquet")
    write_table(frame, out)
    write_json(
        manifest(
            {"command": "fit", "file": str(args.file), "key": args.key, "law": args.law, "method": method},
            rows=len(frame),
            samples_per_row=x.shape[1],
            classes=class_counts(frame["class"]),
        ),
        out.with_suffix(".json"),
    )
    for table in tables:
        console.print(table)
    console.print(f"per-row results: {out}")
    return 0
