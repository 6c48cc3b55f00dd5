"""The report as data: a :class:`Report` is a list of :class:`Section` s, one per analysis, each
with its prose, a plain-words reading of its numbers, its tables and its figures.

One model, several renderings: :mod:`sgdnoise.report.html` (``index.html``) and
:mod:`sgdnoise.report.markdown` (``report.md``) draw the same sections, and
:mod:`sgdnoise.report.bundle` writes both with the tables as CSV and Parquet and a manifest.
A section is built from an analysis result by that analysis' builder in
:mod:`sgdnoise.report.sections`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Table:
    """A table of a section: ``name`` (its file stem, unique in the section), a ``title`` and the
    ``frame``, whose floats are shown with ``float_format``."""

    name: str
    title: str
    frame: pd.DataFrame
    float_format: str = "{:.4g}"


@dataclass(frozen=True)
class Figure:
    """A figure of a section: the PNG at ``path`` (an SVG of the same stem beside it is linked
    when present) and its ``caption``."""

    path: Path
    caption: str


@dataclass(frozen=True)
class Section:
    """One analysis in the report.

    ``key`` names the analysis (and its folder); ``text`` says what was run, ``reading`` what the
    numbers say, in plain words; ``config`` and ``seed`` are the analysis' settings and
    ``seconds`` the time its computation took (``resumed``: read back from an earlier run).
    """

    key: str
    title: str
    text: tuple[str, ...] = ()
    reading: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    seconds: float | None = None
    resumed: bool = False


@dataclass(frozen=True)
class Report:
    """A whole report: its ``title``, an ``intro`` paragraph, the ``sections`` in order and the
    run's ``config`` (what the user asked for, e.g. the size preset or the study config)."""

    title: str
    sections: tuple[Section, ...]
    intro: str = ""
    config: dict[str, Any] = field(default_factory=dict)
