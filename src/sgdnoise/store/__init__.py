"""Persistence: atomic writes of tables, arrays and JSON manifests, and reading sample files."""

from sgdnoise.store.atomic import atomic_path, write_arrays, write_json, write_table
from sgdnoise.store.manifest import manifest
from sgdnoise.store.samples import read_samples

__all__ = ["atomic_path", "manifest", "read_samples", "write_arrays", "write_json", "write_table"]
