"""``report.md``: the :class:`~sgdnoise.report.document.Report` as Markdown, figures linked by
their paths relative to the report's folder."""

from __future__ import annotations

import os
from pathlib import Path

from sgdnoise.report.document import Report, Section
from sgdnoise.report.tables import markdown_table


def render_markdown(report: Report, folder: str | Path) -> str:
    """The whole report: title, intro, then each section (heading, prose, reading, tables, figures)."""
    lines = [f"# {report.title}", ""]
    if report.intro:
        lines += [report.intro, ""]
    for section in report.sections:
        lines += _section(section, Path(folder))
    return "\n".join(lines)


def _section(section: Section, folder: Path) -> list[str]:
    blocks = [f"## {section.title}", *section.text]
    if section.reading:
        blocks.append("\n".join(f"- {line}" for line in section.reading))
    for table in section.tables:
        blocks += [f"{table.title}:", markdown_table(table.frame, table.float_format)]
    for figure in section.figures:
        blocks.append(f"![{figure.caption}]({Path(os.path.relpath(figure.path, folder)).as_posix()})")
    return [line for block in blocks for line in (block, "")]
