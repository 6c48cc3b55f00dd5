"""Turning result frames into what people read: rich terminal tables, Markdown, figures."""

from sgdnoise.report.tables import fits_table, frame_table, markdown_table, summary_table

__all__ = ["fits_table", "frame_table", "markdown_table", "summary_table"]
