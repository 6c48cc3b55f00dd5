"""The monitor's Parquet files: every measurement appended by rewriting the file atomically.

``monitor.parquet`` holds one row per measured step and layer, ``monitor_entries.parquet`` one row
per measured step and sampled entry. Each append writes the whole table to a temporary file and
renames it over the old one (:func:`sgdnoise.store.atomic_path`), so a run killed at any moment
leaves a readable file holding every finished measurement. The rows are kept as Arrow tables, so
an append converts only the new rows and the rewrite is one Parquet write of the concatenation.

A table opened on an existing file continues it (``resume=True``): a resumed training run measures
again from where its checkpoint was, so the first new measurement drops the old rows of that step
and later ones, and the file holds each step once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sgdnoise.errors import DataFileError
from sgdnoise.store import atomic_path


class MonitorTable:
    """Rows of one kind (per layer, or per entry) kept in memory and mirrored to ``path``
    (``None``: memory only). ``frame`` is everything so far, in step order."""

    def __init__(self, path: str | os.PathLike | None, *, resume: bool = True) -> None:
        self.path = None if path is None else Path(path)
        self._parts: list[pa.Table] = []
        self._trim = False
        if self.path is not None and resume and self.path.is_file():
            try:
                self._parts.append(pq.read_table(self.path))
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise DataFileError(
                    f"cannot read the monitor table {self.path} ({exc}); delete it or pass resume=False to start over"
                ) from exc
            self._trim = True

    def append(self, rows: pd.DataFrame) -> None:
        """Add the rows of one measurement (all with the same ``step``) and rewrite the file."""
        new = pa.Table.from_pandas(rows, preserve_index=False)
        if self._trim and self._parts:
            old = self._parts[0]
            self._parts[0] = old.filter(pc.less(old["step"], int(rows["step"].iloc[0])))
        self._trim = False
        if self._parts and not new.schema.equals(self._parts[0].schema, check_metadata=False):
            try:
                new = new.cast(self._parts[0].schema)
            except (ValueError, TypeError, pa.ArrowInvalid) as exc:
                raise DataFileError(
                    f"the rows do not fit the columns of {self.path} ({exc}); it was written by another version or "
                    "monitor: use a new folder, or resume=False to start over"
                ) from exc
        self._parts.append(new)
        if self.path is not None:
            with atomic_path(self.path) as tmp:
                pq.write_table(self._table(), tmp)

    def _table(self) -> pa.Table:
        return pa.concat_tables(self._parts) if len(self._parts) > 1 else self._parts[0]

    @property
    def frame(self) -> pd.DataFrame:
        return self._table().to_pandas() if self._parts else pd.DataFrame()
