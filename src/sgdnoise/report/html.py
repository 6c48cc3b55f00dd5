"""``index.html``: the :class:`~sgdnoise.report.document.Report` as one self-contained page.

Offline by construction: styles inline, every figure embedded as a base64 PNG (the PNG and, when
present, the SVG beside it are linked too), no script and no remote resource. Each table carries
``data-rows`` (its number of body rows) so that a browser test can check it is complete.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from sgdnoise.report.document import Figure, Report, Section, Table

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.5rem}
nav ol{columns:2}code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
.reading{background:#f4f8ff;border-left:4px solid #4a7bd0;padding:.4rem 1rem;margin:1rem 0}
.reading h3{margin:.3rem 0;font-size:1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem;display:block;overflow-x:auto}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:right;white-space:nowrap}
th{background:#f6f6f6}td.text{text-align:left}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,.meta{font-size:.85rem;color:#555}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem}
"""


def render_html(
    report: Report,
    folder: str | Path,
    *,
    tables: dict[tuple[str, str], list[Path]] | None = None,
    run: dict[str, Any] | None = None,
) -> str:
    """The page for ``report`` written into ``folder`` (figure links are relative to it).

    ``tables`` maps ``(section key, table name)`` to the files the table was also written to;
    ``run`` (versions, seeds, git hash, …, as in ``manifest.json``) fills the closing section.
    """
    folder = Path(folder)
    tables = tables or {}
    toc = "".join(f'<li><a href="#{_id(s)}">{_text(s.title)}</a></li>' for s in report.sections)
    body = [
        f"<header><h1>{_text(report.title)}</h1>",
        f"<p>{_text(report.intro)}</p>" if report.intro else "",
        f'<nav><ol>{toc}<li><a href="#run">Run: configuration, versions, timings</a></li></ol></nav></header>',
        *(_section(s, folder, tables) for s in report.sections),
        _run_section(report, run or {}),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_text(report.title)}</title><style>{STYLE}</style></head>\n'
        "<body>\n" + "\n".join(part for part in body if part) + "\n</body></html>\n"
    )


def _id(section: Section) -> str:
    return "section-" + re.sub(r"[^A-Za-z0-9_-]", "-", section.key)


def _text(text: str) -> str:
    """Escaped text, with Markdown-style `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _section(section: Section, folder: Path, files: dict[tuple[str, str], list[Path]]) -> str:
    parts = [f'<section id="{_id(section)}" data-key="{html.escape(section.key)}">', f"<h2>{_text(section.title)}</h2>"]
    parts += [f"<p>{_text(p)}</p>" for p in section.text]
    if section.reading:
        items = "".join(f"<li>{_text(line)}</li>" for line in section.reading)
        parts.append(f'<div class="reading"><h3>What the numbers say</h3><ul>{items}</ul></div>')
    parts += [_figure(f, folder) for f in section.figures]
    parts += [_table(t, folder, files.get((section.key, t.name), [])) for t in section.tables]
    parts.append(_settings(section))
    parts.append("</section>")
    return "\n".join(parts)


def _figure(figure: Figure, folder: Path) -> str:
    data = base64.b64encode(Path(figure.path).read_bytes()).decode("ascii")
    links = [_link(figure.path, folder, "PNG")]
    svg = Path(figure.path).with_suffix(".svg")
    if svg.is_file():
        links.append(_link(svg, folder, "SVG"))
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(figure.caption)}">'
        f"<figcaption>{_text(figure.caption)} · {' · '.join(links)}</figcaption></figure>"
    )


def _link(path: Path, folder: Path, label: str) -> str:
    return f'<a href="{html.escape(Path(os.path.relpath(path, folder)).as_posix())}">{label}</a>'


def _table(table: Table, folder: Path, files: list[Path]) -> str:
    frame = table.frame
    links = " · ".join(_link(p, folder, p.suffix.lstrip(".").upper()) for p in files)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    text = [frame[c].dtype == object for c in frame.columns]
    rows = []
    for row in frame.itertuples(index=False):
        cells = "".join(
            f"<td{' class=text' if is_text else ''}>{html.escape(_cell(v, table.float_format))}</td>"
            for v, is_text in zip(row, text)
        )
        rows.append(f"<tr>{cells}</tr>")
    caption = _text(table.title) + (f" · {links}" if links else "")
    return (
        f'<table data-name="{html.escape(table.name)}" data-rows="{len(frame)}"><caption>{caption}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _cell(value: Any, float_format: str) -> str:
    if isinstance(value, float):
        return "—" if pd.isna(value) else float_format.format(value)
    return str(value)


def _settings(section: Section) -> str:
    timing = "" if section.seconds is None else f"computed in {section.seconds:.1f} s"
    if section.resumed:
        timing += " (read back from an earlier run with the same inputs)"
    seed = "" if section.seed is None else f"seed {section.seed}"
    meta = "; ".join(part for part in (seed, timing) if part)
    config = json.dumps(section.config, indent=1, default=str)
    return (
        f'<details><summary class="meta">Settings{": " + html.escape(meta) if meta else ""}</summary>'
        f"<pre>{html.escape(config)}</pre></details>"
    )


def _run_section(report: Report, run: dict[str, Any]) -> str:
    versions = run.get("versions", {})
    version_rows = "".join(
        f"<tr><td class=text>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in versions.items()
    )
    timing_rows = "".join(
        f"<tr><td class=text>{_text(s.title)}</td><td>{'' if s.seed is None else s.seed}</td>"
        f"<td>{'' if s.seconds is None else f'{s.seconds:.1f}'}</td>"
        f"<td class=text>{'yes' if s.resumed else ''}</td></tr>"
        for s in report.sections
    )
    extra = {k: v for k, v in run.items() if k not in ("versions", "config")}
    return "\n".join(
        [
            '<section id="run"><h2>Run: configuration, versions, timings</h2>',
            f"<pre>{html.escape(json.dumps(report.config, indent=1, default=str))}</pre>",
            f'<table data-name="versions" data-rows="{len(versions)}"><caption>Versions</caption>'
            f"<thead><tr><th>package</th><th>version</th></tr></thead><tbody>{version_rows}</tbody></table>",
            f'<table data-name="timings" data-rows="{len(report.sections)}"><caption>Seeds and timings</caption>'
            "<thead><tr><th>analysis</th><th>seed</th><th>seconds</th><th>resumed</th></tr></thead>"
            f"<tbody>{timing_rows}</tbody></table>",
            f'<p class="meta">{html.escape(json.dumps(extra, default=str))}</p>' if extra else "",
            "</section>",
        ]
    )
