"""Write a :class:`~sgdnoise.report.document.Report` to a folder: ``index.html`` (open this),
``report.md``, every table as ``tables/<section>/<name>.csv`` and ``.parquet``, and
``manifest.json`` (sections, files, config, versions, seeds, timings). Every file is written
atomically; the figures stay where their analyses wrote them (PNG and SVG)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from sgdnoise.report.document import Report
from sgdnoise.report.html import render_html
from sgdnoise.report.markdown import render_markdown
from sgdnoise.store import atomic_path, manifest, write_json, write_table


def write_report(report: Report, folder: str | Path) -> dict[str, Path]:
    """Write the report's files into ``folder``; return their paths by name (``html``,
    ``markdown``, ``manifest``)."""
    folder = Path(folder)
    files = {
        (s.key, t.name): _write_table(t.frame, folder / "tables" / s.key / t.name)
        for s in report.sections
        for t in s.tables
    }
    run = manifest(report.config)
    paths = {
        "html": _write_text(render_html(report, folder, tables=files, run=run), folder / "index.html"),
        "markdown": _write_text(render_markdown(report, folder), folder / "report.md"),
    }
    paths["manifest"] = write_json(
        {**run, "title": report.title, "sections": _sections(report, folder, files)}, folder / "manifest.json"
    )
    return paths


def _write_table(frame: pd.DataFrame, stem: Path) -> list[Path]:
    """``stem.csv`` and ``stem.parquet``; text columns of mixed types are written as text."""
    frame = frame.rename(columns=str)
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(type).nunique() > 1:
            frame[column] = frame[column].astype(str)
    return [write_table(frame, stem.with_suffix(".csv")), write_table(frame, stem.with_suffix(".parquet"))]


def _write_text(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _sections(report: Report, folder: Path, files: dict[tuple[str, str], list[Path]]) -> list[dict[str, Any]]:
    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, folder)).as_posix()

    return [
        {
            "key": s.key,
            "title": s.title,
            "seed": s.seed,
            "seconds": s.seconds,
            "resumed": s.resumed,
            "reading": list(s.reading),
            "config": s.config,
            "tables": {t.name: [rel(p) for p in files[(s.key, t.name)]] for t in s.tables},
            "figures": [rel(f.path) for f in s.figures],
        }
        for s in report.sections
    ]
