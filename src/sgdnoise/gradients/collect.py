"""``collect_noise``: SGN of a PyTorch model over K random mini-batches, chunked and resumable."""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.engines import loop_gradients, vmap_gradients
from sgdnoise.gradients.entries import UnsupportedModelError, entries_unsupported_reason, entry_gradients
from sgdnoise.gradients.full import check_finite_gradient, full_gradient
from sgdnoise.gradients.planning import (
    Workload,
    choose_method,
    chunk_size,
    entry_floats,
    fits_one_mini_batch,
    micro_batch_size,
    probe_model,
    samples_per_piece,
)
from sgdnoise.gradients.result import NoiseResult
from sgdnoise.gradients.running import RunningMoments
from sgdnoise.gradients.runstore import NoiseRunStore
from sgdnoise.gradients.selection import ParameterSelection, select_parameters
from sgdnoise.plumbing.batches import sample_batch_indices
from sgdnoise.plumbing.checks import is_int
from sgdnoise.plumbing.data import DataSource, as_indexed_source
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.modes import evaluation_mode, trainable_parameters
from sgdnoise.rng import Seed, as_generator

DEFAULT_MEMORY_BUDGET = 1 << 30  # 1 GiB


def collect_noise(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    batch_size: int,
    num_batches: int,
    seed: Seed,
    params: Any = None,
    method: str = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    full_grad: dict[str, torch.Tensor] | None = None,
    replacement: bool = False,
    out: Any = None,
    progress: bool = False,
) -> NoiseResult:
    """Collect the noise ``u_k = ∇U(w) − (1/B) Σ_{ℓ∈Ω_k} ∇U_ℓ(w)`` (papers.md §1 eq. 1), k = 1…K.

    Parameters
    ----------
    model, loss_fn:
        Any ``nn.Module`` and ``loss_fn(output, target)`` returning the *mean* loss of a batch.
        The model is put in eval mode for the run (BatchNorm uses running statistics, dropout
        is off) and every module's mode is restored afterwards; weights are not changed.
    data:
        ``(X, y)`` tensors, a map-style ``Dataset`` of ``(x, y)`` pairs, or a ``DataLoader``
        (its dataset). ``D`` = number of points.
    batch_size, num_batches, seed:
        ``B``, ``K`` and the seed of the mini-batches (``batch_indices``, each row B distinct
        points unless ``replacement=True``) and of the sampled parameter entries. The
        mini-batches depend only on ``seed``, ``D``, ``B``, ``K`` and ``replacement`` — the same
        seed gives the same mini-batches at another checkpoint or with another selection.
    params:
        Which noise samples to keep: ``None``/``"all"``, name glob(s), an int ``n`` (n random
        entries per parameter tensor) or a :class:`ParameterSelection`.
    method:
        ``"loop"``, ``"vmap"``, ``"entries"`` or ``"auto"`` (rule in
        :mod:`sgdnoise.gradients.planning`). An engine that cannot take the model falls back
        to ``"loop"`` with a warning.
    memory_budget:
        Bytes one chunk of mini-batches may use (estimate, see ``planning``). A mini-batch larger
        than the budget is split into micro-batches (loop engine); a budget below one sample
        raises :class:`InvalidInputError`.
    full_grad:
        ``name → ∇U`` if already known; otherwise computed in passes over the data.
    out:
        A folder: the run streams there chunk by chunk (``runstore``) and a re-run with the
        same arguments resumes after the last finished chunk (``seed`` must be an int).

    Returns a :class:`NoiseResult`. Raises :class:`InvalidInputError` for a batch size larger
    than the data, an empty selection, or a NaN/Inf loss or gradient (naming the mini-batch and
    the parameter), :class:`ConfigError` when ``out`` holds a different run.
    """
    if not isinstance(model, nn.Module) or not callable(loss_fn):
        raise InvalidInputError("model must be a torch.nn.Module and loss_fn a callable (output, target) -> mean loss")
    source = as_indexed_source(data)
    named = trainable_parameters(model)
    if not named:
        raise InvalidInputError("the model has no trainable parameters (requires_grad=True)")
    if out is not None and not is_int(seed):
        raise InvalidInputError("a run written to out= must have an int seed, so that it can be resumed")
    gen = as_generator(seed)  # mini-batches first, so they depend on the seed only, not on `params`
    batch_indices = sample_batch_indices(source.size, batch_size, num_batches, gen, replacement=replacement)
    selection = select_parameters({n: p.shape for n, p in named.items()}, params, seed=gen)
    everything = select_parameters({n: p.shape for n, p in named.items()})
    computed = selection if method == "entries" else everything  # what the entries engine computes
    device = next(iter(named.values())).device
    with evaluation_mode(model):
        x1, _ = source.take(torch.zeros(1, dtype=torch.int64))
        owners = {n.rpartition(".")[0] for n in computed.names}
        probe = probe_model(model, x1.to(device), owners)
        in_place = sum(selection.count(n) for n in _written_in_place(selection, computed))
        work = Workload(batch_size, num_batches, source.size, computed.total, entry_floats(computed, probe), in_place)
        engine = _usable_engine(choose_method(method, model, probe, work, memory_budget), model, computed)
        engine = _engine_within_budget(engine, method != "auto", probe, work, memory_budget)
        micro = micro_batch_size(probe, batch_size, memory_budget) if engine == "loop" else batch_size
        run = _Run(
            model,
            loss_fn,
            source,
            selection,
            computed,
            everything,
            batch_indices,
            device,
            engine,
            micro,
            samples_per_piece(probe),
        )
        chunk = chunk_size(probe, engine, work, memory_budget, micro)
        per_pass = min(
            source.size, max(batch_size, memory_budget // (3 * probe.itemsize * probe.activations_per_sample))
        )

        def get_full_grad() -> dict[str, torch.Tensor]:
            if full_grad is None:
                return full_gradient(model, loss_fn, source, samples_per_pass=per_pass)
            return _checked_full_grad(full_grad, named)

        store = None
        if out is not None:
            config = _config(named, selection, batch_size, num_batches, replacement, method, source.size, seed)
            store = NoiseRunStore(out, config)
        return run.execute(get_full_grad, chunk, seed, replacement, store, progress)


class _Run:
    """One collection: the chunk loop, shared by fresh and resumed runs."""

    def __init__(
        self,
        model,
        loss_fn,
        source: DataSource,
        selection: ParameterSelection,
        entries_computed: ParameterSelection,
        everything: ParameterSelection,
        batch_indices,
        device,
        engine: str,
        micro_batch: int,
        piece: int,
    ):
        """``selection``: the entries whose noise is kept; ``entries_computed``: the entries the
        entries engine computes (``selection`` itself for an explicit ``method="entries"``, else
        ``everything``); the other engines compute ``everything``."""
        self.model, self.loss_fn, self.source, self.selection = model, loss_fn, source, selection
        self.entries_computed, self.everything = entries_computed, everything
        self.batch_indices, self.device, self.engine, self.micro_batch = batch_indices, device, engine, micro_batch
        self.piece, self.verified = piece, False

    @property
    def computed(self) -> ParameterSelection:
        """The entries whose noise is computed and enters the running statistics."""
        return self.entries_computed if self.engine == "entries" else self.everything

    def execute(
        self, get_full_grad, chunk: int, seed, replacement: bool, store: NoiseRunStore | None, progress: bool
    ) -> NoiseResult:
        """Run (or resume from ``store``) all chunks; ``get_full_grad()`` is only called for a new run."""
        saved = store.read_manifest() if store is not None else None
        if saved is not None:
            store.check_same_run(saved)
            full_grad, chunk, self.engine = store.full_grad(), saved["chunk_size"], saved["engine"]
        else:
            full_grad = get_full_grad()
            if store is not None:
                store.start(seed, full_grad, self.batch_indices, chunk_size=chunk, engine=self.engine)
                saved = store.read_manifest()
        done, state = store.load_state() if store is not None else (0, {})
        moments = RunningMoments(state)
        num_batches = self.batch_indices.shape[0]
        starts = list(range(0, num_batches, chunk))
        kept = _KeptNoise(self.selection, trainable_parameters(self.model), num_batches)
        for c in range(done):
            kept.add(starts[c], *store.read_chunk(c))
        for c in _progress(range(done, len(starts)), progress, total=len(starts), completed=done):
            stop = min(starts[c] + chunk, num_batches)
            noise, losses = self.chunk_noise(starts[c], stop, full_grad, moments, kept.rows(starts[c], stop))
            kept.add(starts[c], noise, losses)
            if store is not None:
                store.write_chunk(c, noise, losses)
                store.save_state(c + 1, moments.state())
            del noise, losses  # kept; freed before the next chunk's gradients are made
        if store is not None and saved.get("status") != "complete":
            store.finish(saved)
        streamed = moments.count == num_batches  # else every computed entry was kept (or a fall back changed that)
        return NoiseResult(
            full_grad=full_grad,
            batch_indices=self.batch_indices,
            noise=kept.noise,
            selection=self.selection,
            losses=kept.losses,
            streamed_stats=moments.result("all" if _keeps_everything(self.computed, self.everything) else "selected")
            if streamed
            else None,
            stats_scope="all" if _keeps_everything(self.selection, self.everything) else "selected",
            method=self.engine,
            chunk_size=chunk,
            seed=seed if is_int(seed) else None,
            replacement=replacement,
            num_points=self.source.size,
        )

    def _streams_stats(self) -> bool:
        """Whether the noise statistics are streamed chunk by chunk: only when some computed
        tensor is not written whole into the kept noise (else :class:`NoiseResult` computes them
        from the kept noise on use)."""
        return set(_written_in_place(self.selection, self.computed)) != set(self.computed.names)

    def direct(self, kept_rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The part of ``kept_rows`` (kept noise of a chunk) whose layout is that of the computed
        gradients, so that the engine can write them there and the noise be made in place."""
        return {n: kept_rows[n] for n in _written_in_place(self.selection, self.computed)}

    def chunk_noise(
        self, start: int, stop: int, full_grad, moments: RunningMoments, kept_rows: dict[str, torch.Tensor]
    ) -> tuple[dict, torch.Tensor]:
        """Kept noise ``name → (stop−start, ...)`` and losses of mini-batches ``start…stop−1``;
        merges the chunk's computed noise into ``moments`` (if streamed). ``kept_rows``: the
        chunk's kept noise, where the engine writes what it can (see :meth:`direct`)."""
        idx = self.batch_indices[start:stop]
        grads, losses = self.gradients(idx, kept_rows)
        _check_finite_chunk(grads, losses, start)
        noise = {
            n: torch.sub(self.computed.take(n, full_grad[n][None]), g, out=g) for n, g in grads.items()
        }  # ∇U − g_k, in g's storage
        if self._streams_stats():
            moments.update(noise)
        if self.computed is self.selection:
            return noise, losses
        return {n: self.selection.take(n, noise[n]) for n in self.selection.names}, losses

    def gradients(self, idx: torch.Tensor, kept_rows: dict[str, torch.Tensor]) -> tuple[dict, torch.Tensor]:
        """Mini-batch gradients (``computed`` entries) and losses of the mini-batches ``idx`` ``(Kc, B)``,
        written into ``kept_rows`` where their layouts agree (:meth:`direct`; not by the vmap
        engine). The layout is that of the engine that runs, so it changes on a fall back."""
        out = self.direct(kept_rows)
        if self.engine == "loop":
            return loop_gradients(self.model, self.loss_fn, *self.samples(idx), self.micro_batch, out=out)
        try:
            if self.engine == "vmap":
                return vmap_gradients(self.model, self.loss_fn, *self.samples(idx))
            distinct, rows = torch.unique(idx, return_inverse=True)
            x, y = self.source.take(distinct)
            grads, losses = entry_gradients(
                self.model,
                self.loss_fn,
                x.to(self.device),
                y.to(self.device),
                rows.to(self.device),
                self.computed,
                self.piece,
                out=out,
            )
            if not self.verified:
                self.verify_first(idx[:1], grads, losses)
            return grads, losses
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            warnings.warn(
                f"the {self.engine} engine cannot take this model ({exc}); falling back to the loop", stacklevel=4
            )
            self.engine = "loop"
            return self.gradients(idx, kept_rows)

    def samples(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples of mini-batches ``idx`` ``(Kc, B)`` as ``x`` ``(Kc, B, ...)`` and ``y`` ``(Kc, B, ...)``."""
        x, y = self.source.take(idx.flatten())
        return x.to(self.device).reshape(*idx.shape, *x.shape[1:]), y.to(self.device).reshape(*idx.shape, *y.shape[1:])

    def verify_first(self, idx: torch.Tensor, grads: dict, losses: torch.Tensor) -> None:
        """Compare the entries engine's first mini-batch with one ``autograd.grad`` (the loop
        engine); raise :class:`UnsupportedModelError` if they differ by more than rounding
        (``10⁻³`` of the tensor's largest entry): a loss that is not a mean of per-sample losses,
        a model that mixes samples, or a parameter used outside its module's ``forward``."""
        ref, ref_loss = loop_gradients(self.model, self.loss_fn, *self.samples(idx), self.micro_batch)
        tol = 1e-3
        if abs(float(losses[0] - ref_loss[0])) > tol * max(abs(float(ref_loss[0])), 1e-12):
            raise UnsupportedModelError(
                "the loss of the first mini-batch is not the mean of its per-sample losses "
                "(is loss_fn not a mean over samples, or does the model mix samples?)"
            )
        for name, g in grads.items():
            r = self.computed.take(name, ref[name])[0]
            if (g[0] - r).abs().max() > tol * max(float(r.abs().max()), 1e-12):
                raise UnsupportedModelError(
                    f"its gradient of {name} differs from autograd's on the first mini-batch "
                    "(does the model mix samples, or use the parameter outside its module?)"
                )
        self.verified = True


class _KeptNoise:
    """The kept noise (name → ``(K, ...)``, the layout of ``selection.take``) and losses ``(K,)``
    of all ``K`` mini-batches, made at the start and filled chunk by chunk. An engine that
    computes exactly the kept entries writes into :meth:`rows` itself, so no chunk is copied."""

    def __init__(self, selection: ParameterSelection, params: dict[str, torch.Tensor], num_batches: int):
        layout = {
            n: selection.shapes[n] if selection.entries[n] is None else (selection.count(n),) for n in selection.names
        }
        self.noise = {n: params[n].new_empty((num_batches, *shape)) for n, shape in layout.items()}
        self.losses = torch.empty(num_batches, dtype=torch.float64)  # on the CPU, whatever the engine used

    def rows(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        """The kept noise of mini-batches ``start…stop−1`` (views)."""
        return {n: t[start:stop] for n, t in self.noise.items()}

    def add(self, start: int, noise: dict[str, torch.Tensor], losses: torch.Tensor) -> None:
        """Keep the chunk of mini-batches ``start…start+len(losses)−1`` (a no-op for what is already there)."""
        stop = start + losses.shape[0]
        for name, t in noise.items():
            dest = self.noise[name][start:stop]
            if t.data_ptr() != dest.data_ptr():
                dest.copy_(t)
        self.losses[start:stop] = losses


def _written_in_place(selection: ParameterSelection, computed: ParameterSelection) -> list[str]:
    """The kept tensors whose computed gradients have the kept layout, so that the engine writes
    them straight into the kept noise: all when it computes just the kept entries, else those kept
    whole."""
    if computed is selection:
        return list(selection.names)
    return [n for n in selection.names if selection.entries[n] is None and computed.entries[n] is None]


def _keeps_everything(selection: ParameterSelection, computed: ParameterSelection) -> bool:
    """Whether ``selection`` holds every entry of ``computed``, both as whole tensors."""
    return set(selection.names) == set(computed.names) and all(
        selection.entries[n] is None and computed.entries[n] is None for n in computed.names
    )


def _usable_engine(engine: str, model: nn.Module, selection: ParameterSelection) -> str:
    if engine == "entries":
        reason = entries_unsupported_reason(model, selection)
        if reason is not None:
            warnings.warn(f"the entries engine cannot take this model ({reason}); using the loop", stacklevel=3)
            return "loop"
    return engine


def _engine_within_budget(engine: str, requested: bool, probe, work: Workload, memory_budget: int) -> str:
    """``engine``, or ``"loop"`` (which can split a mini-batch) when one mini-batch of ``engine``
    does not fit ``memory_budget``; warns if the user asked for ``engine`` explicitly."""
    if engine == "loop" or fits_one_mini_batch(probe, engine, work, memory_budget):
        return engine
    if requested:
        warnings.warn(
            f"one mini-batch of {work.batch_size} needs more than memory_budget under the {engine} engine; "
            "using the loop engine",
            stacklevel=3,
        )
    return "loop"


def _check_finite_chunk(grads: dict[str, torch.Tensor], losses: torch.Tensor, start: int) -> None:
    """Raise naming the first mini-batch (and parameter) whose loss or gradient is NaN/Inf."""
    bad_loss = (~torch.isfinite(losses)).nonzero()
    if bad_loss.numel():
        k = start + int(bad_loss[0])
        raise InvalidInputError(
            f"the loss is NaN or Inf on mini-batch {k} (row {k} of batch_indices); "
            "check those data points and the weights"
        )
    for name, g in grads.items():
        if torch.isfinite(g.sum()):  # fast path; a NaN or Inf anywhere makes the sum non-finite
            continue
        bad = (~torch.isfinite(g.reshape(g.shape[0], -1))).any(1).nonzero()
        if bad.numel():
            k = start + int(bad[0])
            raise InvalidInputError(
                f"the gradient of parameter {name!r} is NaN or Inf on mini-batch {k} (row {k} of batch_indices); "
                "check those data points and the weights"
            )


def _checked_full_grad(full_grad: dict[str, torch.Tensor], named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    missing = [n for n in named if n not in full_grad or tuple(full_grad[n].shape) != tuple(named[n].shape)]
    if missing:
        raise InvalidInputError(
            "full_grad must hold a tensor of the parameter's shape for every trainable parameter; "
            f"wrong or missing: {missing[:5]}"
        )
    out = {n: full_grad[n].detach().to(named[n]) for n in named}
    check_finite_gradient(out, what="the given full_grad")
    return out


def _config(named, selection, batch_size, num_batches, replacement, method, num_points, seed) -> dict[str, Any]:
    """What must match for a run folder to be resumed (weights included, as a SHA-256)."""
    digest = hashlib.sha256()
    for n, p in named.items():
        digest.update(n.encode())
        digest.update(p.detach().cpu().contiguous().numpy().tobytes())
    return {
        "seed": seed if is_int(seed) else None,
        "batch_size": batch_size,
        "num_batches": num_batches,
        "replacement": replacement,
        "method": method,
        "num_points": num_points,
        "weights_sha256": digest.hexdigest(),
        "selection": selection.to_dict(),
    }


def _progress(steps: range, show: bool, *, total: int, completed: int) -> Any:
    if not show:
        return steps
    from rich.progress import track

    return track(steps, description="mini-batch gradients", total=total, completed=completed)
