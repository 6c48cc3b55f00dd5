"""Where a run's independent tasks execute: in this process (the default) or on Ray.

Library code that has independent pieces of work — the seeds of a sweep point, the points of a
sweep, chunks of mini-batches, the steps of a report — describes each as a :class:`Task` and
calls :func:`run_tasks`; it never knows which executor runs them. The caller of the library
chooses with :func:`use_executor` (``sgdnoise ... --executor ray``)::

    with use_executor(RayExecutor()):
        result = run_escape_time(config)   # its sweep points run as Ray tasks

Exactness: every task gets its own seeds from its arguments, never from a generator shared with
other tasks, and runs with the caller's number of torch threads and default dtype, so its result
is the same number for number wherever it runs; :func:`run_tasks` returns the results in task
order, so what is merged from them is too.

Resumption: inside a :func:`~sgdnoise.store.shards.shard_scope` each finished task is kept on
disk as a shard, named by its label and a hash of its function and arguments; a rerun reads the
finished shards back and runs only the rest. A task that fails makes :func:`run_tasks` raise
:class:`~sgdnoise.errors.TaskFailedError` naming it, after the other tasks have finished and
been kept.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from sgdnoise.errors import ConfigError, DataFileError, InvalidInputError, TaskFailedError
from sgdnoise.store.shards import ShardStore, current_shards
from sgdnoise.store.steps import fingerprint


@dataclass(frozen=True)
class Task:
    """``fn(*args, **kwargs)`` under a ``label`` that names it to a user ("lr=0.3 B=8 seeds 0-49")."""

    label: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def shard_name(self) -> str:
        """The label and a content hash of the function and arguments: equal for equal work."""
        return f"{self.label}-{fingerprint((self.fn, self.args, self.kwargs))[:16]}"


@dataclass(frozen=True)
class TaskSettings:
    """What a task inherits from the caller so that it computes the same numbers anywhere."""

    threads: int
    default_dtype: torch.dtype

    @classmethod
    def here(cls) -> TaskSettings:
        return cls(torch.get_num_threads(), torch.get_default_dtype())

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
        torch.set_num_threads(self.threads)
        torch.set_default_dtype(self.default_dtype)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.set_default_dtype(dtype)


class Executor(Protocol):
    """Runs tasks. ``workers``: how many run at once; ``name``: ``"in-process"`` or ``"ray"``."""

    name: str
    workers: int

    def submit(self, tasks: Sequence[Task], settings: TaskSettings) -> Iterator[tuple[int, Any, BaseException | None]]:
        """Run ``tasks``; yield ``(index, value, None)`` for each as it finishes, or
        ``(index, None, error)`` for one that failed (after the executor's retries)."""
        ...

    def close(self) -> None:
        """Release what the executor started (a local Ray instance); idempotent."""
        ...


class InProcessExecutor:
    """The tasks one after another in this process: exactly what a plain loop does."""

    name = "in-process"
    workers = 1

    def submit(self, tasks: Sequence[Task], settings: TaskSettings) -> Iterator[tuple[int, Any, BaseException | None]]:
        for index, task in enumerate(tasks):
            try:
                value = task.fn(*task.args, **task.kwargs)
            except Exception as error:  # reported with the task's label by run_tasks
                yield index, None, error
                return
            yield index, value, None

    def close(self) -> None:
        pass


_EXECUTOR: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("sgdnoise_executor", default=None)
_IN_PROCESS = InProcessExecutor()


def current_executor() -> Executor:
    """The executor of the innermost :func:`use_executor`, else the in-process one."""
    return _EXECUTOR.get() or _IN_PROCESS


@contextlib.contextmanager
def use_executor(executor: Executor) -> Iterator[Executor]:
    """Run the tasks of the block's library calls on ``executor``."""
    if not (hasattr(executor, "submit") and hasattr(executor, "workers")):
        raise InvalidInputError(f"executor must be an InProcessExecutor or a RayExecutor; got {executor!r}")
    token = _EXECUTOR.set(executor)
    try:
        yield executor
    finally:
        _EXECUTOR.reset(token)


def run_tasks(
    tasks: Sequence[Task],
    *,
    store: ShardStore | None = None,
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """The value of every task, in task order, computed on the current executor.

    ``store`` (default: the current :func:`~sgdnoise.store.shards.shard_scope`'s) keeps each
    finished task and hands back the ones a previous run finished. ``on_result(index, value)``
    is called for each computed task as it finishes (in completion order). Raises
    :class:`TaskFailedError` naming every task that failed, after the rest have finished.
    """
    tasks = list(tasks)
    labels = [t.label for t in tasks]
    if len(set(labels)) != len(labels):
        raise InvalidInputError(f"task labels must be unique within a run; repeated: {_repeated(labels)}")
    store = current_shards() if store is None else store
    results: list[Any] = [None] * len(tasks)
    names = [t.shard_name() for t in tasks] if store is not None else []
    pending = []
    for index in range(len(tasks)):
        found, value = store.get(names[index]) if store is not None else (False, None)
        if found:
            results[index] = value
        else:
            pending.append(index)
    if not pending:
        return results
    executor = current_executor()
    failures: list[tuple[str, BaseException]] = []
    for k, value, error in executor.submit([tasks[i] for i in pending], TaskSettings.here()):
        index = pending[k]
        if error is not None:
            failures.append((tasks[index].label, error))
            continue
        results[index] = value
        if store is not None:
            _keep(store, names[index], value)
        if on_result is not None:
            on_result(index, value)
    if failures:
        if executor.name == "in-process":  # it stops at the first failure: raise it as a plain loop would
            label, error = failures[0]
            error.add_note(f"(in the task {label!r})")
            raise error
        kept = f"; the finished tasks are kept in {store.folder}, a rerun computes only the rest" if store else ""
        listed = "; ".join(f"{label!r}: {type(e).__name__}: {e}" for label, e in failures)
        raise TaskFailedError(
            f"{len(failures)} of {len(tasks)} tasks failed on the {executor.name} executor — {listed}{kept}"
        ) from failures[0][1]
    return results


def _keep(store: ShardStore, name: str, value: Any) -> None:
    with contextlib.suppress(DataFileError):  # a value a record cannot hold (a module) is recomputed on a rerun
        store.write(name, value)


def _repeated(labels: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({x for x in labels if x in seen or seen.add(x)})


EXECUTORS = ("in-process", "ray")


def executor_named(name: str, *, address: str | None = None) -> Executor:
    """The executor a command line names: ``"in-process"`` or ``"ray"`` (a local instance, or the
    cluster at ``address``)."""
    if name == "in-process":
        if address is not None:
            raise ConfigError("--address names a Ray cluster; use it with --executor ray")
        return _IN_PROCESS
    if name == "ray":
        from sgdnoise.parallel.ray_executor import RayExecutor

        return RayExecutor(address)
    raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


@contextlib.contextmanager
def running_on(name: str, *, address: str | None = None) -> Iterator[Executor]:
    """The block's tasks on the executor :func:`executor_named` names, released at its end."""
    executor = executor_named(name, address=address)
    try:
        with use_executor(executor):
            yield executor
    finally:
        executor.close()
