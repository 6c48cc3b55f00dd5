"""Run a list of analysis steps into one folder, each resumable, and write their report.

A :class:`Step` is one analysis: its key (also its folder under the output and its report
section's builder), a line saying what it does, the ``inputs`` that determine its result (its
config and, for a user's model, fingerprints of the weights and data) and ``compute`` returning
a result with ``write(folder)``. :func:`run_steps` runs them in order with a progress bar, reading
back every step whose inputs are unchanged (:func:`sgdnoise.store.steps.run_step`), and writes
``index.html``, ``report.md``, the tables and ``manifest.json`` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgdnoise.parallel import Task, current_executor, run_tasks
from sgdnoise.report.bundle import write_report
from sgdnoise.report.document import Report, Section
from sgdnoise.report.sections import build_section
from sgdnoise.store.steps import StepOutcome, computed_step, finished_step, kept_step, run_step


@dataclass(frozen=True)
class Step:
    key: str
    description: str
    inputs: Any
    compute: Callable[[], Any]


@dataclass
class StepsRun:
    """What :func:`run_steps` produced: each step's outcome and section by key, and the report's files."""

    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def _outcomes(steps: Sequence[Step], out: Path) -> dict[str, StepOutcome]:
    """Every step's outcome, the unfinished ones computed at once as tasks of the current
    executor (each written here as it comes back, so an interruption keeps the finished)."""
    outcomes = {}
    for step in steps:
        done = finished_step(out / step.key, step.inputs)
        if done is not None:
            outcomes[step.key] = done
    todo = [step for step in steps if step.key not in outcomes]

    def keep(index: int, value: tuple[Any, float]) -> None:
        step = todo[index]
        outcomes[step.key] = kept_step(out / step.key, step.inputs, *value)

    run_tasks([Task(step.key, computed_step, (step.compute, out / step.key)) for step in todo], on_result=keep)
    return outcomes


def run_steps(
    steps: Sequence[Step],
    out: str | Path,
    *,
    title: str,
    intro: str = "",
    config: dict[str, Any] | None = None,
    console: Any = None,
) -> StepsRun:
    """Run (or read back) every step into ``out/<key>``, then write the report into ``out``.

    On an executor with several workers (:func:`sgdnoise.parallel.use_executor`) the unfinished
    steps run at once as its tasks first, and the report is built from them in order.

    With a rich ``console``, a progress bar counts the steps and names the one running, and each
    finished step's reading is printed. A ``KeyboardInterrupt`` stops the run between or inside
    steps; finished steps stay on disk and are read back by the next run.
    """
    out = Path(out)
    run = StepsRun()
    outcomes = _outcomes(steps, out) if current_executor().workers > 1 else None
    with _progress(console, len(steps)) as advance:
        for step in steps:
            advance(step.description)
            outcome = outcomes[step.key] if outcomes else run_step(out / step.key, step.inputs, step.compute)
            section = build_section(
                step.key, outcome.result, out / step.key, seconds=outcome.seconds, resumed=outcome.resumed
            )
            run.outcomes[step.key], run.sections[step.key] = outcome, section
            if console is not None:
                how = "read back from the last run" if outcome.resumed else f"{outcome.seconds:.1f} s"
                console.print(f"[bold]{section.title}[/bold] ({how})")
                for line in section.reading:
                    console.print(f"  • {line}", markup=False)
        advance(None)
    report = Report(title=title, intro=intro, sections=tuple(run.sections.values()), config=config or {})
    run.files = write_report(report, out)
    return run


class _progress:
    """A rich progress bar over the steps (nothing without a console); ``advance(description)``
    marks the previous step done and names the next (``None``: all done)."""

    def __init__(self, console: Any, total: int):
        self.console, self.total = console, total
        self.bar = None
        self.started = False

    def __enter__(self) -> Callable[[str | None], None]:
        if self.console is None:
            return lambda description: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("", total=self.total)
        return self._advance

    def _advance(self, description: str | None) -> None:
        if self.started:
            self.bar.advance(self.task)
        self.started = True
        self.bar.update(self.task, description=description or "writing the report")

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
