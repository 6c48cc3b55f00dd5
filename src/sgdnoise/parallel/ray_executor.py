"""The Ray executor: a run's tasks as Ray tasks, on a local instance or an existing cluster.

``ray`` is an optional dependency (``pip install 'sgdnoise[ray]'``), imported when a
:class:`RayExecutor` first runs something. Without ``address`` it starts a local instance with
``num_cpus`` CPUs (default: all) and stops it on :meth:`RayExecutor.close`; with ``address``
(``"auto"``, ``"ray://host:10001"``, ``"host:6379"``) it joins that cluster and leaves it running.

Each task asks for ``cpus_per_task`` CPUs — by default as many as the torch threads it runs with
(the caller's, so that its numbers are the caller's), so a machine is never oversubscribed — and
is retried up to ``max_retries`` times when its
worker process dies (Ray's own retries); a task that raises is not retried, its error comes back
to :func:`~sgdnoise.parallel.executor.run_tasks`, which names it. An argument that several tasks
share (the same object: a model, a data set) is put into Ray's object store once. A task that
itself runs tasks (a step whose sweep is split) sends them to the same cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from sgdnoise.errors import ConfigError
from sgdnoise.parallel.executor import Task, TaskSettings, use_executor
from sgdnoise.plumbing.checks import positive_int


class RayExecutor:
    """Runs tasks on Ray; see the module's docstring."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        cpus_per_task: float | None = None,
        max_retries: int = 3,
    ):
        if address is not None and num_cpus is not None:
            raise ConfigError("num_cpus sets the size of a local Ray instance; a cluster at an address has its own")
        if num_cpus is not None:
            positive_int(num_cpus, "num_cpus", error=ConfigError)
        if cpus_per_task is not None and not (isinstance(cpus_per_task, (int, float)) and cpus_per_task > 0):
            raise ConfigError(f"cpus_per_task must be a positive number; got {cpus_per_task!r}")
        positive_int(max_retries, "max_retries", minimum=0, error=ConfigError)
        self.address, self.num_cpus = address, num_cpus
        self.cpus_per_task, self.max_retries = cpus_per_task, max_retries
        self._started = False

    @property
    def workers(self) -> int:
        """How many tasks the cluster runs at once, each with this thread's torch thread count."""
        ray = self._connect()
        cpus = ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // self._cpus_per_task(cpus)))

    def _cpus_per_task(self, cpus: float) -> float:
        return min(cpus, self.cpus_per_task or torch.get_num_threads())

    def submit(self, tasks: Sequence[Task], settings: TaskSettings) -> Iterator[tuple[int, Any, BaseException | None]]:
        ray = self._connect()
        cpus = self._cpus_per_task(ray.cluster_resources().get("CPU", 1))
        remote = ray.remote(_run_remote).options(num_cpus=cpus, max_retries=self.max_retries, retry_exceptions=False)
        inner = RayExecutor(cpus_per_task=self.cpus_per_task, max_retries=self.max_retries)
        shared = _shared_arguments(ray, tasks)
        running = {
            remote.remote(settings, inner, task.fn, task.kwargs, *[shared.get(id(a), a) for a in task.args]): index
            for index, task in enumerate(tasks)
        }
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            index = running.pop(done[0])
            try:
                yield index, ray.get(done[0]), None
            except ray.exceptions.RayTaskError as error:  # the task raised: hand back its own error
                yield index, None, error.cause if isinstance(error.cause, BaseException) else error
            except ray.exceptions.RayError as error:  # its worker died more often than max_retries
                yield index, None, error

    def close(self) -> None:
        """Stop the local instance this executor started (a joined cluster keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def _connect(self) -> Any:
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        try:
            if self.address is None:
                ray.init(num_cpus=self.num_cpus or os.cpu_count(), **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray instance"
            raise ConfigError(
                f"cannot start or join {where}: {error}; check the address (`ray status` on the head node) "
                "or leave --address out to start a local instance"
            ) from error
        self._started = True
        return ray

    def __repr__(self) -> str:
        where = self.address or f"local, {self.num_cpus or os.cpu_count()} CPUs"
        return f"RayExecutor({where})"


def _run_remote(settings: TaskSettings, inner: RayExecutor, fn: Any, kwargs: dict[str, Any], *args: Any) -> Any:
    """One task in a Ray worker, with the caller's torch settings, its own tasks sent to the same cluster."""
    with settings.applied(), use_executor(inner):
        return fn(*args, **kwargs)


def _shared_arguments(ray: Any, tasks: Sequence[Task]) -> dict[int, Any]:
    """An object-store reference for every positional argument object that more than one task passes."""
    counts: dict[int, int] = {}
    objects: dict[int, Any] = {}
    for task in tasks:
        for arg in task.args:
            if arg is None or isinstance(arg, (bool, int, float, str)):
                continue
            counts[id(arg)] = counts.get(id(arg), 0) + 1
            objects[id(arg)] = arg
    return {key: ray.put(objects[key]) for key, n in counts.items() if n > 1}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ConfigError("the Ray executor needs ray: pip install 'sgdnoise[ray]'") from error
    return ray
