"""The one planner of a collection: which engine, how many mini-batches per chunk, how many samples
per backward pass, and why — a frozen :class:`CollectionPlan`.

The engines (:mod:`sgdnoise.gradients.engines`) each state their memory rule
(:meth:`Engine.chunk_bytes`); a chunk holds the largest number ``Kc ≤ K`` of mini-batches (at
least one) whose estimate fits ``memory_budget``, found by bisection (every rule grows with
``Kc``). The budget bounds these estimates, not the process (the model, the data and the kept
noise come on top).

Engine rule for ``method="auto"`` (the measurements behind it and its constants are in
benchmarks/RESULTS.md):

- ``entries`` when every trainable parameter sits in a module it supports and a budget-sized
  chunk of ``Kc`` mini-batches draws each of its ``U`` distinct points ``ρ = Kc·B/U`` times on
  average, at least ``ρ*`` (:meth:`Planner.reuse_needed`). It pays each distinct point's forward
  and backward pass once where the other engines pay them per draw, but it pays more per point;
  so it needs some reuse, and the more the larger ``B``, as the other engines' cost per sample
  falls with ``B``. Its rival is ``vmap`` for a net ``vmap`` takes (below), else the loop:

  - against ``vmap``: ``ρ* = REUSE_OVER_VMAP·B/(B + VMAP_HALF_BATCH)``;
  - against the loop: ``ρ* = REUSE_OVER_LOOP·B/(B + B_call)``, where ``B_call = c·LOOP_CALL_FLOATS/A``
    (``c`` leaf-module calls of a forward pass, ``A`` leaf-output floats per sample,
    :mod:`sgdnoise.gradients.probe`) is the mini-batch size at which the loop's fixed cost per
    module call equals its work on the samples: large for a deep net on small inputs, where the
    loop is slow at small ``B`` and ``entries`` pays without reuse.

- else ``vmap`` for models of at most ``VMAP_MAX_PARAMS`` trainable parameters without
  convolutions or BatchNorm, and ``loop`` otherwise (vmap is slower than the loop on CNNs on a
  CPU, and needs far more memory).

Fall backs, each said in the plan's ``reason`` (and warned about by ``collect_noise`` when the
user named the engine): an engine that cannot take the model (:meth:`Engine.supports`) hands
over to the loop; so does one whose single mini-batch does not fit the budget, and the loop then
splits every mini-batch into micro-batches if even it does not fit (:meth:`LoopEngine.micro_batch`).
An engine that finds at run time that it cannot take the model falls back to the loop too
(:meth:`CollectionPlan.falling_back`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.engines import ENGINES, ENTRIES, FALLBACK, LOOP, VMAP, Engine, Workload
from sgdnoise.gradients.kept import written_in_place
from sgdnoise.gradients.probe import ModelProbe, probe_model
from sgdnoise.gradients.selection import ParameterSelection, select_parameters
from sgdnoise.plumbing.checks import positive_int
from sgdnoise.plumbing.modes import evaluation_mode
from sgdnoise.plumbing.parameters import trainable_parameters

AUTO = "auto"
METHODS = (AUTO, *(engine.name for engine in ENGINES))
VMAP_MAX_PARAMS = 100_000
REUSE_OVER_VMAP = 3.3
VMAP_HALF_BATCH = 64
REUSE_OVER_LOOP = 2.3
LOOP_CALL_FLOATS = 16_000
_VMAP_SLOW_MODULES = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)


def engine_for(method: str) -> Engine | None:
    """The engine ``method`` names (``"loop"``, ``"vmap"``, ``"entries"``), ``None`` for ``"auto"``.
    The one place an engine is found by its name (a user's ``method=``, a run folder's manifest)."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}; got {method!r}")
    return None if method == AUTO else next(engine for engine in ENGINES if engine.name == method)


@dataclass(frozen=True)
class CollectionPlan:
    """How a collection runs: ``engine``, ``chunk_size`` mini-batches per chunk, ``micro_batch``
    samples per backward pass (``B`` unless the loop splits mini-batches), ``full_pass`` points per
    forward pass of the full gradient, and ``reason``, why this engine. ``requested``: the engine
    ``method=`` named (``None`` for ``"auto"``)."""

    engine: Engine
    chunk_size: int
    micro_batch: int
    full_pass: int
    reason: str
    requested: Engine | None = None

    @property
    def computes_kept_only(self) -> bool:
        """Whether the engine computes the kept entries only (an engine that can, named by
        ``method=``), rather than every entry."""
        return self.engine.computes_subsets and self.engine is self.requested

    @property
    def fell_back(self) -> bool:
        """Whether the engine is not the one ``method=`` named (``reason`` says why)."""
        return self.requested is not None and self.engine is not self.requested

    def falling_back(self, why: str) -> CollectionPlan:
        """This plan on the loop engine, after ``engine`` found ``why`` it cannot take the model
        while running (chunk and micro-batch sizes kept)."""
        reason = f"the {self.engine.name} engine cannot take this model ({why}); falling back to the loop"
        return dataclasses.replace(self, engine=FALLBACK, reason=reason)

    def resumed(self, manifest: Mapping[str, Any]) -> CollectionPlan:
        """This plan with the engine, chunk size and micro-batch size a run folder's ``manifest``
        recorded, so a resumed run goes on exactly as it started."""
        return dataclasses.replace(
            self,
            engine=engine_for(manifest["engine"]) or self.engine,
            chunk_size=int(manifest["chunk_size"]),
            micro_batch=int(manifest.get("micro_batch", self.micro_batch)),
            reason=str(manifest.get("reason", self.reason)),
        )

    def to_dict(self) -> dict[str, Any]:
        """``engine`` (its name), ``chunk_size``, ``micro_batch``, ``full_pass``, ``reason``: what
        a run's manifest and result record."""
        return {
            "engine": self.engine.name,
            "chunk_size": self.chunk_size,
            "micro_batch": self.micro_batch,
            "full_pass": self.full_pass,
            "reason": self.reason,
        }


class Planner:
    """Plans the collection of the ``kept`` entries' noise of ``model`` over ``num_batches``
    mini-batches of ``batch_size`` out of ``num_points`` points with ``method``; ``sample`` is one
    input (leading axis 1, on the model's device) for the probe (:mod:`sgdnoise.gradients.probe`),
    run in eval mode. ``into_kept_noise``: the gradients go into the kept noise, as in
    ``collect_noise``, so those written there in place need no memory of their own (``False``
    for a caller that keeps no noise and only wants the gradients).

    :meth:`plan` answers for a budget; :meth:`chunk_bytes` gives an engine's estimate for a chunk,
    the numbers :meth:`plan` compares with the budget."""

    def __init__(
        self,
        model: nn.Module,
        sample: torch.Tensor,
        kept: ParameterSelection,
        *,
        batch_size: int,
        num_batches: int,
        num_points: int,
        method: str = AUTO,
        into_kept_noise: bool = True,
    ) -> None:
        self.model, self.kept, self.into_kept_noise = model, kept, into_kept_noise
        self.requested = engine_for(method)
        self.batch_size, self.num_batches, self.num_points = batch_size, num_batches, num_points
        self.everything = select_parameters({n: p.shape for n, p in trainable_parameters(model).items()})
        probed = self.computed(self.requested) if self.requested is not None else self.everything
        owners = {n.rpartition(".")[0] for n in probed.names}
        with evaluation_mode(model):
            self.probe: ModelProbe = probe_model(model, sample, owners)

    def computed(self, engine: Engine) -> ParameterSelection:
        """The entries ``engine`` computes: the kept ones when it can and ``method=`` named it,
        else every entry."""
        return self.kept if engine.computes_subsets and engine is self.requested else self.everything

    def workload(self, engine: Engine) -> Workload:
        """What ``engine`` computes, as its memory rule reads it."""
        computed = self.computed(engine)
        in_place = sum(self.kept.count(n) for n in written_in_place(self.kept, computed)) if self.into_kept_noise else 0
        return Workload(self.probe, self.batch_size, self.num_batches, self.num_points, computed, in_place)

    def chunk_bytes(self, engine: Engine, chunk: int, micro_batch: int | None = None) -> int:
        """``engine``'s estimate of one chunk of ``chunk`` mini-batches, in bytes."""
        return engine.chunk_bytes(self.workload(engine), chunk, micro_batch)

    def chunk_size(self, engine: Engine, memory_budget: int, micro_batch: int | None = None) -> int:
        """The largest ``Kc ≤ K`` (at least 1) whose :meth:`chunk_bytes` fit ``memory_budget``."""
        low, high = 1, self.num_batches
        while low < high:
            mid = (low + high + 1) // 2
            if self.chunk_bytes(engine, mid, micro_batch) <= memory_budget:
                low = mid
            else:
                high = mid - 1
        return low

    def plan(self, memory_budget: int) -> CollectionPlan:
        """The plan under ``memory_budget`` bytes (rules in the module docstring). Raises
        :class:`InvalidInputError` for a budget that is not a positive int or below one sample."""
        positive_int(memory_budget, "memory_budget (bytes)")
        if self.requested is None:
            engine, reason = self._auto(memory_budget)
        else:
            engine, reason = self.requested, f"method={self.requested.name!r}"
        why_not = engine.supports(self.model, self.computed(engine))
        if why_not is not None:
            engine, reason = FALLBACK, f"the {engine.name} engine cannot take this model ({why_not}); using the loop"
        micro = engine.micro_batch(self.workload(engine), memory_budget)
        if engine is not FALLBACK and self.chunk_bytes(engine, 1, micro) > memory_budget:
            reason = (
                f"one mini-batch of {self.batch_size} needs more than memory_budget under the {engine.name} "
                "engine; using the loop engine"
            )
            engine = FALLBACK
            micro = engine.micro_batch(self.workload(engine), memory_budget)
        if micro < self.batch_size:
            reason += f"; mini-batches split into micro-batches of {micro} to fit memory_budget"
        return CollectionPlan(
            engine=engine,
            chunk_size=self.chunk_size(engine, memory_budget, micro),
            micro_batch=micro,
            full_pass=self._full_pass(memory_budget),
            reason=reason,
            requested=self.requested,
        )

    @property
    def rival(self) -> Engine:
        """The engine ``auto`` weighs ``entries`` against, and runs when ``entries`` does not pay:
        ``vmap`` for a model without convolutions or BatchNorm of at most ``VMAP_MAX_PARAMS``
        trainable parameters, else the loop (module docstring)."""
        return VMAP if self._why_not_vmap() is None else LOOP

    def reuse_needed(self, rival: Engine) -> float:
        """``ρ*``: the draws per distinct point at which ``entries`` overtakes ``rival`` (``vmap``
        or the loop) at this ``B`` (module docstring)."""
        b = self.batch_size
        if rival is VMAP:
            return REUSE_OVER_VMAP * b / (b + VMAP_HALF_BATCH)
        per_call = self.probe.module_calls * LOOP_CALL_FLOATS / self.probe.activations_per_sample
        return REUSE_OVER_LOOP * b / (b + per_call)

    def _auto(self, memory_budget: int) -> tuple[Engine, str]:
        """The engine of ``method="auto"`` and why (module docstring)."""
        rival = self.rival
        why_not_entries = ENTRIES.supports(self.model, self.everything)
        if why_not_entries is None:
            chunk = self.chunk_size(ENTRIES, memory_budget)
            draws = chunk * self.batch_size / self.workload(ENTRIES).expected_distinct(chunk)
            needed = self.reuse_needed(rival)
            reuse = f"its chunks draw each distinct point {draws:.2f} times"
            versus = f"the {needed:.2f} that beat the {rival.name} engine at B = {self.batch_size}"
            if draws >= needed:
                return ENTRIES, f"auto: {reuse}, at least {versus}"
            why_not_entries = f"{reuse}, under {versus}"
        if rival is VMAP:
            small = f"{self.probe.num_params} parameters, no convolution or BatchNorm"
            return VMAP, f"auto: {small} (not entries: {why_not_entries})"
        return LOOP, f"auto: not entries ({why_not_entries}), not vmap ({self._why_not_vmap()})"

    def _why_not_vmap(self) -> str | None:
        """Why ``auto`` does not consider ``vmap`` for this model, or ``None`` when it does."""
        if any(isinstance(m, _VMAP_SLOW_MODULES) for m in self.model.modules()):
            return "it has convolutions or BatchNorm"
        if self.probe.num_params > VMAP_MAX_PARAMS:
            return f"{self.probe.num_params} parameters, over {VMAP_MAX_PARAMS}"
        return None

    def _full_pass(self, memory_budget: int) -> int:
        """Points per forward pass of the full gradient: three copies of their activations within
        ``memory_budget``, at least ``B``, at most ``D``."""
        per_point = 3 * self.probe.itemsize * self.probe.activations_per_sample
        return min(self.num_points, max(self.batch_size, memory_budget // per_point))
