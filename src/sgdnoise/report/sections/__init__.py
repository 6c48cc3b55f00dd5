"""Section builders: one per analysis, each turning that analysis' result into a report
:class:`~sgdnoise.report.document.Section` (prose, plain-words reading, tables, figures).

A builder is a function ``(result, folder) -> Section`` registered under the analysis' key with
:func:`section_builder`; ``folder`` is where ``result.write`` put its files (figures are taken
from there). Every module of this package is imported on first use, so a new analysis adds one
module here and nothing else in the report.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgdnoise.errors import ConfigError
from sgdnoise.report.document import Section

Builder = Callable[[Any, Path], Section]
_BUILDERS: dict[str, Builder] = {}


def section_builder(key: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of analysis ``key``."""

    def register(builder: Builder) -> Builder:
        _BUILDERS[key] = builder
        return builder

    return register


def builders() -> dict[str, Builder]:
    """Every registered builder by analysis key (the package's modules imported first)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(_BUILDERS)


def build_section(
    key: str, result: Any, folder: str | Path, *, seconds: float | None = None, resumed: bool = False
) -> Section:
    """The section of analysis ``key`` for ``result`` (written to ``folder``), with the result's
    config and seed and the computation's ``seconds``."""
    found = builders()
    if key not in found:
        raise ConfigError(f"no report section for the analysis {key!r}; known: {', '.join(sorted(found))}")
    section = found[key](result, Path(folder))
    config = getattr(result, "config", None)
    settings = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
    return dataclasses.replace(
        section, key=key, config=settings, seed=settings.get("seed"), seconds=seconds, resumed=resumed
    )
