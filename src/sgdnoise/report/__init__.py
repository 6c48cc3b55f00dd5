"""Turning result frames into what people read: rich terminal tables, Markdown, figures."""

from sgdnoise.report.tables import (
    class_caption,
    fits_table,
    frame_table,
    laws_summary_table,
    laws_table,
    markdown_table,
    summary_table,
)

__all__ = [
    "class_caption",
    "fits_table",
    "frame_table",
    "laws_summary_table",
    "laws_table",
    "markdown_table",
    "summary_table",
]
