"""The monitor's Parquet files: every measurement appended by rewriting the file atomically.

``monitor.parquet`` holds one row per measured step and layer, ``monitor_entries.parquet`` one row
per measured step and sampled entry. Each append writes the whole table to a temporary file and
renames it over the old one (:func:`sgdnoise.store.write_table`), so a run killed at any moment
leaves a readable file holding every finished measurement. The tables stay small (layers × logs),
so rewriting costs far less than a measurement.

A table opened on an existing file continues it (``resume=True``): a resumed training run measures
again from where its checkpoint was, so the first new measurement drops the old rows of that step
and later ones, and the file holds each step once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sgdnoise.errors import DataFileError
from sgdnoise.store import write_table


class MonitorTable:
    """Rows of one kind (per layer, or per entry) kept in memory and mirrored to ``path``
    (``None``: memory only). ``frame`` is everything so far, in step order."""

    def __init__(self, path: str | os.PathLike | None, *, resume: bool = True) -> None:
        self.path = None if path is None else Path(path)
        self._frame = pd.DataFrame()
        self._trim = False
        if self.path is not None and resume and self.path.is_file():
            try:
                self._frame = pd.read_parquet(self.path)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise DataFileError(
                    f"cannot read the monitor table {self.path} ({exc}); delete it or pass resume=False to start over"
                ) from exc
            self._trim = True

    def append(self, rows: pd.DataFrame) -> None:
        """Add the rows of one measurement (all with the same ``step``) and rewrite the file."""
        if self._trim and len(self._frame):
            self._frame = self._frame[self._frame["step"] < int(rows["step"].iloc[0])]
        self._trim = False
        self._frame = rows if self._frame.empty else pd.concat([self._frame, rows], ignore_index=True)
        if self.path is not None:
            write_table(self._frame, self.path)

    @property
    def frame(self) -> pd.DataFrame:
        return self._frame.copy()
