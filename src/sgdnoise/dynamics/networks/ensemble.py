"""Many plain-SGD runs of one network at once, over a leading seed axis.

Seed ``s`` (one of ``seeds``) is the run ``w_{t+1} = w_t − η ∇_w (1/B) Σ_{ℓ∈Ω_t^s} loss_ℓ(w_t)``
(no momentum, no weight decay). Its mini-batch stream ``Ω_1^s, Ω_2^s, …`` is :func:`batch_indices`:
``sgdnoise.gradients.sample_batch_indices`` on a ``torch.Generator`` seeded with ``s``, row after
row (uniform random B-subsets, independent across steps; the sampler's stream does not depend on
how many rows are drawn at once, so the ensemble draws each seed's next ``block_steps`` batches in
one call).

All seeds' parameters are stacked, ``{name: (S, *shape)}``. One step is one forward and backward
over all seeds, by one of two paths:

* direct (:class:`_StackedMLP`), for an ``nn.Sequential`` of an optional leading ``Flatten``,
  ``Linear``, ``ReLU``, ``Identity`` and ``Dropout`` layers: the layers' forward and backward are
  written out on the stacked tensors (no vmap, no ``functional_call``, no autograd graph through
  the layers), and for plain ``F.cross_entropy`` the output gradient too;
* generic, for any other network: ``vmap(loss ∘ functional_call)`` forward over the seeds and one
  ordinary ``autograd.grad`` of the summed seed losses.

Seeds whose ``stop`` fires are frozen (their parameters stop changing) and dropped from the
computation, as exited paths in :func:`~sgdnoise.dynamics.simulate_exit`; memory does not grow
with the number of steps.

Exactness: each seed's parameters are bit-identical (``torch.equal``, CPU, float32 and float64,
one intra-op thread) to ``torch.optim.SGD`` on a copy of the model fed the same batches. Plain
vmap is not: its rule for ``F.linear`` adds the bias after the batched GEMM (the unbatched layer
fuses it into ``addmm``, which rounds differently in float64), ``bmm`` switches to a naive kernel
for small products, and MKL rounds small GEMMs differently when an operand is not 64-byte
aligned. So every 2-D ``F.linear`` runs through :func:`_seedwise_mm` (directly, or under vmap via
:class:`_SeedLinear`/:class:`_StackedLinear`), which uses ``baddbmm``/``bmm`` on aligned per-seed
blocks where these round as the unbatched layer, and a seed-by-seed product where they do not;
ReLU and the cross-entropy gradient act element- or row-wise as in one seed's autograd. In the
generic path other layers use vmap's own rules (exactness is tested for MLPs; convolutions may
differ in the last bit). With several threads MKL may split one product's sum across threads
differently in the two runs. The per-seed GEMMs are the floor of a step's cost: MKL's batched
small products cost about as much per seed as the loop's single ones.

The network is run in eval mode: BatchNorm uses its running statistics (buffers shared by all
seeds and never updated) and dropout is off. For networks without such layers this is plain SGD.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from torch.overrides import TorchFunctionMode

from sgdnoise.dynamics.progress import step_progress
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.plumbing.batches import sample_batch_indices, sample_batch_indices_per_stream
from sgdnoise.rng import as_generator

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Params = dict[str, torch.Tensor]
StopRule = Callable[[int, Params, torch.Tensor], torch.Tensor]


DEFAULT_BLOCK_STEPS = 256


def batch_indices(seed: int, num_points: int, batch_size: int, steps: int, *, start: int = 0) -> torch.Tensor:
    """Mini-batches ``start+1 … start+steps`` of seed ``seed``'s stream, int64 ``(steps, B)``.

    The stream is :func:`sgdnoise.gradients.sample_batch_indices` on a generator seeded with
    ``seed``, row after row; that sampler consumes its generator row by row, so the stream does not
    depend on how many rows are drawn at once (:func:`sgd_ensemble` draws blocks of steps).
    """
    _positive_int(steps, "steps")
    if not (isinstance(start, int) and not isinstance(start, bool) and start >= 0):
        raise InvalidInputError(f"start must be an int ≥ 0; got {start!r}")
    gen = as_generator(seed)
    for done in range(0, start, DEFAULT_BLOCK_STEPS):  # skip the first `start` batches, a bounded block at a time
        sample_batch_indices(num_points, batch_size, min(DEFAULT_BLOCK_STEPS, start - done), gen)
    return sample_batch_indices(num_points, batch_size, steps, gen)


def init_seed(seed: int) -> int:
    """Seed of the torch RNG that draws seed ``seed``'s initial weights when ``init="random"``:
    ``numpy.random.SeedSequence(seed).generate_state(1)[0]`` (decorrelated from its batch stream)."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


# How each seed's product is rounded must not depend on the batching. Two ATen/MKL facts matter:
# below this size (contraction × rows × cols) ``torch.bmm``/``baddbmm`` switch to a naive kernel
# (ATen ``baddbmm_out_cpu``), and MKL's small-matrix GEMM rounds differently when an operand or
# the result does not start on a 64-byte boundary, as every tensor of an unbatched step does.
_NAIVE_BMM_SIZE = 400
_ALIGN = 64


def _stacked(t: torch.Tensor, dim: int | None, n: int) -> torch.Tensor:
    return t.movedim(dim, 0) if dim is not None else t.expand(n, *t.shape)


def _is_aligned(t: torch.Tensor) -> bool:
    return t.data_ptr() % _ALIGN == 0 and (t.stride(0) * t.element_size()) % _ALIGN == 0


def _aligned(t: torch.Tensor) -> torch.Tensor:
    """``t`` (S, r, c) with each seed's matrix starting on a 64-byte boundary, in the same
    per-seed layout (row- or column-major); ``t`` itself when it already is."""
    if _is_aligned(t) and (t.stride(2) == 1 or t.stride(1) == 1):
        return t
    column_major = t.stride(1) == 1 and t.stride(2) != 1
    src = t.transpose(1, 2) if column_major else t
    n, rows, cols = src.shape
    per_seed = -(-rows * cols * t.element_size() // _ALIGN) * _ALIGN // t.element_size()
    out = torch.empty(n * per_seed, dtype=t.dtype, device=t.device).as_strided((n, rows, cols), (per_seed, cols, 1))
    out.copy_(src)
    return out.transpose(1, 2) if column_major else out


def _seedwise_mm(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``bias + a[s] @ b[s]`` for every seed s, rounded as the unbatched ``addmm``/``mm`` would:
    one batched call when ATen/MKL round it per seed exactly so, else seed by seed."""
    a, b = _aligned(a), _aligned(b)
    n, rows, cols = a.shape[0], a.shape[1], b.shape[2]
    batched_ok = a.shape[2] * rows * cols >= _NAIVE_BMM_SIZE and (rows * cols * a.element_size()) % _ALIGN == 0
    if batched_ok or a.device.type != "cpu":
        if bias is None:
            return torch.bmm(a, b)
        return torch.baddbmm(bias[:, None, :].expand(n, rows, cols), a, b)
    if bias is None:
        return torch.stack([torch.mm(x, y) for x, y in zip(a, b)])
    return torch.stack([torch.addmm(c, x, y) for c, x, y in zip(bias, a, b)])


class _StackedLinear(torch.autograd.Function):
    """Every seed's ``F.linear`` on stacked tensors ``x (S, B, in)``, ``w (S, out, in)``, ``b (S, out)``
    or None, with the gradients autograd gives one unbatched layer (``addmm(b, x, w.t())``:
    ``∂x = g w``, ``∂w = gᵀ x``, ``∂b = Σ_rows g``), each product rounded as there."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return _seedwise_mm(x, w.transpose(1, 2), b)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return (
            _seedwise_mm(grad_out, w) if need_x else None,
            _seedwise_mm(grad_out.transpose(1, 2), x) if need_w else None,
            grad_out.sum(1) if need_b and ctx.has_bias else None,
        )


class _SeedLinear(torch.autograd.Function):
    """One seed's ``F.linear(x, w, b)`` (2-D ``x``) whose batching rule is :class:`_StackedLinear`.

    Used under ``vmap`` with ordinary autograd outside it (``autograd.grad`` of the summed seed
    losses), so the gradients are :class:`_StackedLinear`'s; ``backward`` here serves only a
    gradient transform applied inside the vmap."""

    @staticmethod
    def forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, w, b)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, w, b = inputs
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, w = ctx.saved_tensors
        return grad_out.mm(w), grad_out.t().mm(x), (grad_out.sum(0) if ctx.has_bias else None)

    @staticmethod
    def vmap(info, in_dims, x, w, b):
        n = info.batch_size
        bias = None if b is None else _stacked(b, in_dims[2], n)
        return _StackedLinear.apply(_stacked(x, in_dims[0], n), _stacked(w, in_dims[1], n), bias), 0


class _SeedLinearMode(TorchFunctionMode):
    """Routes 2-D ``F.linear`` calls through :class:`_SeedLinear` (other calls unchanged)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear and args[0].ndim == 2:
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            return _SeedLinear.apply(args[0], args[1], bias)
        return func(*args, **kwargs)


def seed_loss(model: nn.Module, loss_fn: LossFn) -> Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(params, x, y) -> loss_fn(model_params(x), y)`` for one seed, to be vmapped over seeds."""
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with _SeedLinearMode():
            out = functional_call(model, (params, buffers), (x,))
        return loss_fn(out, y)

    return loss


def _autograd_output_grad(loss_fn: LossFn) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``(outputs (S, B, C), y) -> (loss (S,), ∂Σ_s L_s/∂outputs)`` by autograd through ``vmap(loss_fn)``."""
    seed_losses = vmap(loss_fn)

    def output_grad(outputs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        leaf = outputs.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = seed_losses(leaf, y)
            (g,) = torch.autograd.grad(loss.sum(), leaf)
        return loss.detach(), g

    return output_grad


def _is_plain_cross_entropy(loss_fn: LossFn, y: torch.Tensor) -> bool:
    """``loss_fn`` is ``F.cross_entropy`` (or a default ``nn.CrossEntropyLoss``) on class indices."""
    default_module = (
        isinstance(loss_fn, nn.CrossEntropyLoss)
        and loss_fn.weight is None
        and loss_fn.reduction == "mean"
        and loss_fn.label_smoothing == 0.0
    )
    return (
        (loss_fn is F.cross_entropy or default_module)
        and y.ndim == 1
        and not y.is_floating_point()
        and bool((y >= 0).all())
    )


def _cross_entropy_grad(outputs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of logits ``(S, B, C)`` against classes ``y (S, B)`` per seed, and its
    gradient as autograd forms it for one seed: ``nll_loss`` backward puts ``−1/B`` (divided in the
    logits' dtype) at each target, then ``_log_softmax_backward_data``; both act row by row."""
    log_p = torch.log_softmax(outputs, dim=-1)
    picked = log_p.gather(-1, y.unsqueeze(-1))
    minus_inv_b = -(torch.ones((), dtype=outputs.dtype, device=outputs.device) / y.shape[1])
    g_log_p = torch.zeros_like(log_p).scatter_(-1, y.unsqueeze(-1), minus_inv_b.expand_as(picked))
    return -picked.squeeze(-1).mean(1), torch._log_softmax_backward_data(g_log_p, log_p, -1, outputs.dtype)


class _StackedMLP:
    """Direct path for an ``nn.Sequential`` of an optional leading ``Flatten``, ``Linear``, ``ReLU``,
    ``Identity`` and ``Dropout`` (off in eval mode): every seed's forward and backward on stacked
    tensors, without vmap, ``functional_call`` or an autograd graph through the layers.

    Per Linear layer the products are :class:`_StackedLinear`'s (``z = b + h Wᵀ``; backward
    ``∂W = gᵀ h``, ``∂b = Σ_rows g``, ``∂h = g W``) and ReLU's backward is autograd's own
    ``threshold_backward(g, relu(z), 0)``, so the gradients are bit-identical to the generic path.
    Only the loss goes through autograd (``vmap(loss_fn)`` on the stacked outputs), except plain
    ``F.cross_entropy``, whose gradient is formed directly (:func:`_cross_entropy_grad`).
    """

    _PASS_THROUGH = (nn.Identity, nn.Dropout)

    def __init__(self, layers: list[tuple[str, str, str | None]], flatten: bool, loss_fn: LossFn, y: torch.Tensor):
        self.layers, self.flatten = layers, flatten  # ("linear", weight key, bias key or None) | ("relu", "", None)
        self.first_linear = next((i for i, (kind, _, _) in enumerate(layers) if kind == "linear"), len(layers))
        self.output_grad = (
            _cross_entropy_grad if _is_plain_cross_entropy(loss_fn, y) else _autograd_output_grad(loss_fn)
        )

    @classmethod
    def of(cls, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> _StackedMLP | None:
        """The direct path for ``model`` on inputs ``x``, or None when the model is anything else."""
        if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
            return None
        children = list(model.named_children())
        flatten = bool(children) and isinstance(children[0][1], nn.Flatten)
        if flatten and (children[0][1].start_dim, children[0][1].end_dim) != (1, -1):
            return None
        layers, keys = [], set()
        for name, module in children[int(flatten) :]:
            if type(module) is nn.Linear:
                bias = f"{name}.bias" if module.bias is not None else None
                layers.append(("linear", f"{name}.weight", bias))
                keys |= {f"{name}.weight", bias} - {None}
            elif type(module) is nn.ReLU:
                layers.append(("relu", "", None))
            elif not isinstance(module, cls._PASS_THROUGH):
                return None
        if keys != {n for n, _ in model.named_parameters()} or (x.ndim != 2 and not flatten):
            return None
        return cls(layers, flatten, loss_fn, y)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The data as the first layer sees it, ``(N, D)``."""
        return x.reshape(len(x), -1) if self.flatten else x

    def gradients(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[Params, torch.Tensor]:
        """Each seed's gradient and loss for stacked batches ``x (S, B, D)``, ``y (S, B, …)``."""
        saved, h = [], x
        for kind, weight, bias in self.layers:
            saved.append(h)
            h = (
                _seedwise_mm(h, params[weight].transpose(1, 2), None if bias is None else params[bias])
                if kind == "linear"
                else h.relu_()
            )
        loss, g = self.output_grad(h, y)
        saved.append(h)  # saved[i] is layer i's input, saved[i + 1] its output
        grads = {}
        for i in range(len(self.layers) - 1, self.first_linear - 1, -1):
            kind, weight, bias = self.layers[i]
            if kind == "relu":
                g = torch.ops.aten.threshold_backward(g, saved[i + 1], 0)
                continue
            grads[weight] = _seedwise_mm(g.transpose(1, 2), saved[i])
            if bias is not None:
                grads[bias] = g.sum(1)
            if i > self.first_linear:
                g = _seedwise_mm(g, params[weight])
        return grads, loss


@dataclass(frozen=True)
class EnsembleResult:
    """Outcome of :func:`sgd_ensemble` for ``S`` seeds.

    params : ``{name: (S, *shape)}`` final parameters (a stopped seed's at its stop step).
    stop_step : ``(S,)`` int, the number of SGD steps the seed took (``steps`` if never stopped).
    stopped : ``(S,)`` bool, whether ``stop`` fired.
    loss_steps, losses : ``(R,)`` step numbers t and ``(R, S)`` mini-batch loss ``L_{Ω_t}(w_{t−1})``
        of step t (the loss whose gradient made step t), NaN once a seed has stopped; None unless
        ``record_every`` was given. These equal a seed-by-seed loop's to rounding only (vmap sums
        the batch mean in another order); the parameters are exact.
    trajectory : ``(R, S, D)`` flat parameters after each recorded step, or None.
    """

    seeds: tuple[int, ...]
    params: Params
    stop_step: np.ndarray
    stopped: np.ndarray
    n_steps: int
    lr: float
    batch_size: int
    loss_steps: np.ndarray | None = None
    losses: np.ndarray | None = field(default=None, repr=False)
    trajectory: torch.Tensor | None = field(default=None, repr=False)

    def flat(self) -> torch.Tensor:
        """Final parameters as ``(S, D)``, each seed's tensors flattened in ``named_parameters()`` order."""
        return torch.cat([p.reshape(p.shape[0], -1) for p in self.params.values()], dim=1)

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        """Parameters of the ``i``-th seed (position in ``seeds``), for ``model.load_state_dict(..., strict=False)``."""
        return {k: v[i].clone() for k, v in self.params.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "stop_step": self.stop_step.tolist(),
            "stopped": self.stopped.tolist(),
            "n_steps": self.n_steps,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "loss_steps": None if self.loss_steps is None else self.loss_steps.tolist(),
            "losses": None if self.losses is None else self.losses.tolist(),
        }


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise InvalidInputError(f"seeds must be a non-empty sequence of ints; got {seeds[:5]!r}")
    if len(set(seeds)) != len(seeds):
        raise InvalidInputError("seeds must be distinct (equal seeds give identical runs)")
    return seeds


def _positive_int(value: Any, name: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise InvalidInputError(f"{name} must be an int ≥ 1; got {value!r}")
    return value


def data_tensors(data: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` on ``device`` from a tensor pair or a TensorDataset, checked."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    elif hasattr(data, "tensors") and len(data.tensors) == 2:
        x, y = data.tensors
    else:
        raise InvalidInputError(f"data must be an (inputs, targets) pair or a TensorDataset; got {type(data).__name__}")
    if not (torch.is_tensor(x) and torch.is_tensor(y)) or len(x) != len(y) or len(x) == 0:
        raise InvalidInputError("data: inputs and targets must be non-empty tensors of equal length")
    return x.to(device), y.to(device)


def _starting_params(model: nn.Module, init: Any, seeds: tuple[int, ...]) -> Params:
    """Stacked ``{name: (S, *shape)}`` starts: the model's weights, one state_dict for all seeds,
    one per seed, or ``"random"`` (``reset_parameters`` under ``torch.manual_seed(init_seed(s))``)."""
    names = [n for n, p in model.named_parameters()]
    if init is None:
        init = dict(model.named_parameters())
    if isinstance(init, str):
        if init != "random":
            raise InvalidInputError(f"init must be None, a state_dict, a list of state_dicts or 'random'; got {init!r}")
        starts = []
        for s in seeds:
            twin = copy.deepcopy(model)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(init_seed(s))
                for module in twin.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
            starts.append(dict(twin.named_parameters()))
        init = starts
    if isinstance(init, Mapping):
        init = [init] * len(seeds)
    if not isinstance(init, Sequence) or len(init) != len(seeds):
        raise InvalidInputError(
            f"init must be one state_dict or one per seed ({len(seeds)}); got {type(init).__name__}"
        )
    ref = dict(model.named_parameters())
    stacked = {}
    for n in names:
        try:
            values = [sd[n].detach() for sd in init]
        except KeyError:
            raise InvalidInputError(f"init has no entry {n!r}; it must hold every parameter of the model") from None
        if any(v.shape != ref[n].shape for v in values):
            raise InvalidInputError(
                f"init[{n!r}] has shape {tuple(values[0].shape)}; the model's is {tuple(ref[n].shape)}"
            )
        stacked[n] = torch.stack(values).to(dtype=ref[n].dtype, device=ref[n].device)
    return stacked


def sgd_ensemble(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    seeds: Sequence[int],
    lr: float,
    batch_size: int,
    steps: int,
    init: Any = None,
    record_every: int | None = None,
    record_trajectory: bool = False,
    stop: StopRule | None = None,
    block_steps: int = DEFAULT_BLOCK_STEPS,
    progress: bool = False,
) -> EnsembleResult:
    """Run ``len(seeds)`` independent plain-SGD runs of ``model`` at once.

    Parameters
    ----------
    model : the architecture (its parameters are read, never written; eval mode, see the module note).
    loss_fn : ``loss_fn(outputs, targets)`` → mean loss over the batch (e.g. ``F.cross_entropy``).
    data : ``(inputs (N, ...), targets (N, ...))`` or a TensorDataset.
    seeds : distinct ints; seed s draws its batches with :func:`batch_indices` ``(s, N, B, …)``.
    lr, batch_size, steps : η > 0, B ≤ N, number of SGD steps.
    init : None (the model's current weights for every seed), a state_dict (a common start, e.g. a
        trained minimum), a list of one state_dict per seed, or ``"random"`` (fresh weights per
        seed from ``reset_parameters`` under ``torch.manual_seed(init_seed(s))``).
    record_every : record each seed's mini-batch loss every that many steps (memory grows with steps).
    record_trajectory : with ``record_every``, also keep the flat parameters ``(R, S, D)``.
    stop : ``stop(t, params, seed_idx) -> (S_a,) bool`` called after step t with the running seeds'
        stacked parameters ``{name: (S_a, *shape)}`` (updated in place by later steps: copy what you
        keep) and their positions ``seed_idx`` in ``seeds``; seeds for which it is True stop there
        (``stop_step = t``) and stay frozen.
    block_steps : steps whose mini-batch indices are drawn at once per seed (the batches do not depend on it).
    progress : show a rich progress bar (steps done, seeds still running).

    Raises :class:`InvalidInputError` for bad arguments and :class:`ConvergenceError` when a
    running seed's loss becomes NaN/Inf (naming the seed and step).
    """
    seeds = _check_seeds(seeds)
    for name, v in (("batch_size", batch_size), ("steps", steps), ("block_steps", block_steps)):
        _positive_int(v, name)
    if record_every is not None:
        _positive_int(record_every, "record_every")
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise InvalidInputError(f"lr must be a finite number > 0; got {lr!r}")
    if not isinstance(model, nn.Module) or not any(True for _ in model.parameters()):
        raise InvalidInputError("model must be a torch.nn.Module with parameters")
    device = next(model.parameters()).device
    x, y = data_tensors(data, device)
    if batch_size > len(x):
        raise InvalidInputError(f"batch_size={batch_size} is larger than the data set ({len(x)} points); lower it")
    params = _starting_params(model, init, seeds)
    was_training = model.training
    model.eval()
    try:
        with step_progress(progress, steps, "SGD ensemble", running="seeds running") as advance:
            return _run(
                model,
                loss_fn,
                x,
                y,
                params,
                seeds,
                float(lr),
                batch_size,
                steps,
                record_every,
                record_trajectory,
                stop,
                block_steps,
                advance,
            )
    finally:
        model.train(was_training)


def _gradients(seed_losses, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[Params, torch.Tensor]:
    """Each seed's gradient and loss: ordinary autograd of ``Σ_s L_s`` through the vmapped forward
    (seeds do not interact, so ``∂/∂w_s Σ_s L_s = ∇L_s(w_s)``, and ∂Σ/∂L_s = 1 exactly)."""
    leaves = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    with torch.enable_grad():
        loss = seed_losses(leaves, x, y)
        grads = torch.autograd.grad(loss.sum(), list(leaves.values()), allow_unused=True)
    return {n: torch.zeros_like(p) if g is None else g for (n, p), g in zip(params.items(), grads)}, loss.detach()


def _gradient_path(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor):
    """``(gradients(params, x_batch, y_batch) -> (grads, loss), data as gathered)``: the direct
    stacked-MLP path when the model allows it, else vmap over ``functional_call``."""
    direct = _StackedMLP.of(model, loss_fn, x, y)
    if direct is not None:
        return direct.gradients, direct.inputs(x)
    return functools.partial(_gradients, vmap(seed_loss(model, loss_fn))), x


def _gather(data: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``data[idx]`` for ``idx (S, B)`` as ``(S, B, …)``, by one ``index_select``."""
    return data.index_select(0, idx.reshape(-1)).view(*idx.shape, *data.shape[1:])


def _run(
    model,
    loss_fn,
    x,
    y,
    params,
    seeds,
    lr,
    batch_size,
    steps,
    record_every,
    record_trajectory,
    stop,
    block_steps,
    advance,
) -> EnsembleResult:
    n_seeds, n_points = len(seeds), len(x)
    gradients, x = _gradient_path(model, loss_fn, x, y)
    generators = [as_generator(s) for s in seeds]
    final = {k: v.clone() for k, v in params.items()}
    active = torch.arange(n_seeds, device=x.device)
    stop_step = np.full(n_seeds, steps, dtype=np.int64)
    stopped = np.zeros(n_seeds, dtype=bool)
    loss_rows, loss_steps, frames = [], [], []
    t = 0
    while t < steps and active.numel() > 0:
        k = min(block_steps, steps - t)
        # (k, S_a, B), step-major: the next k batches of each running seed's stream
        streams = [generators[i] for i in active.tolist()]
        block = sample_batch_indices_per_stream(n_points, batch_size, k, streams).transpose(0, 1).to(x.device)
        for j in range(k):
            t += 1
            grads, loss = gradients(params, _gather(x, block[j]), _gather(y, block[j]))
            if not bool(torch.isfinite(loss).all()):
                bad = int(active[~torch.isfinite(loss)][0])
                raise ConvergenceError(
                    f"the loss of seed {seeds[bad]} is {float(loss[~torch.isfinite(loss)][0])} at step {t}; "
                    "lower the learning rate"
                )
            for n, p in params.items():  # in place, as torch.optim.SGD (the stacked tensors are the ensemble's own)
                p.add_(grads[n], alpha=-lr)
            if record_every is not None and t % record_every == 0:
                row = np.full(n_seeds, np.nan)
                row[active.cpu().numpy()] = loss.detach().cpu().double().numpy()
                loss_rows.append(row)
                loss_steps.append(t)
                if record_trajectory:
                    merged = {n: final[n].index_copy(0, active, p) for n, p in params.items()}
                    frames.append(torch.cat([p.reshape(n_seeds, -1) for p in merged.values()], dim=1).cpu())
            halt = (
                None
                if stop is None
                else torch.as_tensor(stop(t, params, active), dtype=torch.bool, device=x.device).reshape(-1)
            )
            if halt is not None and halt.shape[0] != active.numel():
                raise InvalidInputError(
                    f"stop must return one bool per running seed ({active.numel()}); got shape {tuple(halt.shape)}"
                )
            if halt is not None and bool(halt.any()):
                done = active[halt]
                for n, p in params.items():
                    final[n][done] = p[halt]
                stop_step[done.cpu().numpy()] = t
                stopped[done.cpu().numpy()] = True
                keep = ~halt
                active, block = active[keep], block[:, keep]
                params = {n: p[keep] for n, p in params.items()}
                if active.numel() == 0:
                    break
        advance(j + 1, active.numel())
    for n, p in params.items():
        final[n][active] = p
    return EnsembleResult(
        seeds=seeds,
        params=final,
        stop_step=stop_step,
        stopped=stopped,
        n_steps=t,
        lr=lr,
        batch_size=batch_size,
        loss_steps=np.asarray(loss_steps, dtype=np.int64) if record_every is not None else None,
        losses=np.stack(loss_rows) if loss_rows else (np.empty((0, n_seeds)) if record_every is not None else None),
        trajectory=(torch.stack(frames) if frames else None) if record_trajectory else None,
    )
