"""One transient progress bar for the step loops of ``dynamics`` (exits, ensembles, Zhu variants)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def step_progress(enabled: bool, total: int, label: str, running: str | None = None) -> Iterator[Callable[..., None]]:
    """``advance(steps, active=None)``: a rich bar of ``total`` steps titled ``label`` — with
    ``"{active} {running}"`` beside it when ``running`` names what is still going — or a no-op."""
    if not enabled:
        yield lambda steps, active=None: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    extra = [TextColumn("{task.fields[active]} " + running)] if running is not None else []
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), *extra, TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task("steps", total=total, active="")
        yield lambda steps, active=None: bar.update(task, advance=steps, active="" if active is None else str(active))
