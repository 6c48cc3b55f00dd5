"""Mini-batch gradients from per-sample factors, each distinct sample through the model once.

A chunk of ``Kc`` mini-batches draws ``Kc·B`` samples, many of them more than once when
``Kc·B`` approaches the data size ``D``. Each *distinct* sample ``n`` goes through the model
once (eval mode, so samples are independent), with the loss ``L = (1/B) Σ_n ℓ_n`` of the
per-sample losses ``ℓ_n``. One backward pass gives ``δ_n = ∂L/∂z_n = (1/B) ∂ℓ_n/∂z_n`` at the
output ``z`` of every module holding a selected entry — the same in every mini-batch holding
``n``, because for a mean loss ``loss_fn(Ω_k) = (1/B) Σ_{n∈Ω_k} ℓ_n``. The per-sample
contribution of an entry is a product of the module input ``a_n`` and ``δ_n`` restricted to
that entry, and summing the contributions of ``Ω_k`` gives exactly the entry of ``g_k``
(eq. 1). The forward and the input-gradient half of the backward are thus paid once per
distinct sample instead of once per draw. The backward pass forms neither weight gradients nor
the gradient of the model's input: it stops at the first module holding a selected entry.

The distinct samples go through the model a piece at a time, and each piece's per-sample
contributions are summed into the mini-batches at once, by one sparse product with the piece's
columns of the ``(Kc, U)`` count matrix ``C[k, n]`` = times sample ``n`` sits in mini-batch
``k`` (:class:`_Batches`): no per-draw gather, and the factors of one piece are all that is
held. A whole Linear or Conv2d weight ``W`` whose module has ``T`` output positions (pixels,
tokens; summed over calls) has two ways to its mini-batch gradients:

- *per sample*, when ``T ≥ PER_SAMPLE_POSITIONS``: the per-sample weight gradients of the piece
  (``2·T·|W|`` FLOPs per distinct *sample*; the weight half of the convolution's backward with
  the samples as groups, :func:`_conv2d_weight_per_sample`), ``weight_piece`` samples at a time,
  summed by ``C`` (``|W|`` additions per *draw*). On a small CNN's and ResNet-20's convolutions
  (32×32 inputs) at 4 draws per sample this took 1.8–3.7× less time than per mini-batch;
- *per mini-batch*, when ``T`` is small (Linear layers, the last stages of a net on 8×8
  inputs): the weight half of the backward on each mini-batch's factors (``2·T·|W|`` FLOPs per
  *draw*, but at matrix-multiply speed, where the ``|W|`` memory-bound additions per draw of the
  per-sample way cost more when ``2T`` is below about 16–32); the module's factors are then
  kept for all ``U`` samples. A conv whose input maps have fewer positions than its kernel
  (2×2 maps, 3×3 kernels) takes the outer products of whole maps, folded onto the taps
  (:func:`_conv2d_weight_per_batch_folded`), which skips the products with the zero padding.

Per-sample contribution of a selected entry (``T`` = positions: tokens, pixels):

- ``nn.Linear`` weight ``(o, i)``: ``Σ_T δ[n,T,o]·a[n,T,i]``; bias ``o``: ``Σ_T δ[n,T,o]``. A
  whole selected weight is ``δ_nᵀ a_n`` per sample, or summed per mini-batch directly,
  ``g_k = Σ_{n∈Ω_k} δ_nᵀ a_n`` (one batched matmul), so even all entries are cheap.
- ``nn.Conv2d`` (zero padding, any stride/dilation/groups) weight ``(o, c, r, s)``:
  ``Σ_{p,q} δ[n,o,p,q]·a_pad[n, c_in, r·d_h + p·s_h, s·d_w + q·s_w]``; bias: ``Σ δ[n,o]``. A
  whole selected weight: the weight half of the convolution's backward, per mini-batch or with
  the samples of a piece stacked as groups.
- ``nn.BatchNorm1d/2d`` with running statistics: ``x̂ = (a − μ)/√(σ²+ε)``, weight ``c``:
  ``Σ δ[n,c]·x̂[n,c]``; bias: ``Σ δ[n,c]``.
- ``nn.LayerNorm``: ``x̂ = layer_norm(a)`` without affine, same formulas per normalised entry.

Other modules may appear anywhere in the net, but a selected entry must belong to one of these.
The model's forward must treat samples independently (true in eval mode for standard layers).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.graph import get_gradient_edge

from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.plumbing.losses import LossFn, per_sample_losses

SUPPORTED_MODULES = (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)
WEIGHT_PATH_MODULES = (nn.Linear, nn.Conv2d)  # whose whole weights go per sample or per mini-batch (module docstring)
WEIGHT_PIECE_BYTES = 4 << 20
PER_SAMPLE_POSITIONS = 16
GROUPED_BATCHES = 16


class UnsupportedModelError(RuntimeError):
    """The entries engine cannot handle this model/selection (the caller falls back to the loop)."""


def entries_unsupported_reason(model: nn.Module, selection: ParameterSelection) -> str | None:
    """Why :func:`entry_gradients` cannot take ``model``/``selection``, or ``None`` if it can."""
    modules = dict(model.named_modules())
    for name in selection.names:
        owner, _, attr = name.rpartition(".")
        module = modules.get(owner)
        if not isinstance(module, SUPPORTED_MODULES) or attr not in ("weight", "bias"):
            supported = [m.__name__ for m in SUPPORTED_MODULES]
            return f"parameter {name} belongs to a {type(module).__name__}, not one of {supported}"
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            return f"{owner} uses padding_mode={module.padding_mode!r} (only 'zeros' is supported)"
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.running_mean is None:
            return f"{owner} has no running statistics, so samples are not independent"
    return None


def entry_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    rows: torch.Tensor,
    selection: ParameterSelection,
    piece: int = 1 << 30,
    weight_piece: int | None = None,
    out: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Selected entries of the mini-batch gradients of a chunk (see module docstring).

    ``x``: ``(U, ...)`` and ``y``: ``(U, ...)``, the *distinct* samples of the chunk;
    ``rows``: ``(Kc, B)`` int64, mini-batch ``k`` = samples ``rows[k]`` (a sample may sit in many
    mini-batches, or twice in one when drawn with replacement). Returns ``(grads, losses)``:
    ``grads[name]`` is ``(Kc, *shape)`` for a whole selected tensor, ``(Kc, n)`` for ``n``
    selected entries (the layout of :meth:`ParameterSelection.take`); ``losses`` is ``(Kc,)``,
    the mean of the per-sample losses over each mini-batch. The distinct samples go through the
    model ``piece`` at a time, each piece summed into the mini-batches before the next;
    per-sample weight gradients are formed ``weight_piece`` samples at a time (default: as many as
    fill ``WEIGHT_PIECE_BYTES``). ``out``: name → tensor of the layout of ``grads[name]`` to
    write that gradient into (e.g. a slice of a larger buffer, which saves a chunk-sized copy);
    names it lacks get new tensors. Raises
    :class:`UnsupportedModelError` when a selected module is not reached by the backward pass.
    """
    kc, b = rows.shape
    u = x.shape[0]
    modules = dict(model.named_modules())
    owners = {o: modules[o] for o in {name.rpartition(".")[0] for name in selection.names}}
    out = out or {}
    batches = _Batches(rows, u, out)
    joined: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}  # weight name -> factors of its module
    weight_owners = weight_path_owners(owners)
    products = {  # tensors summed from per-sample products of their selected entries (flat indices)
        name: selection.flat_indices(name).to(x.device)
        for name in selection.names
        if not on_weight_path(selection, name, weight_owners)
    }
    sums: dict[str, torch.Tensor] = {}  # name -> (Kc, width), summed into (in out[name] if given)
    for start in range(0, u, piece):
        calls_of, losses = _factors(model, loss_fn, x[start : start + piece], y[start : start + piece], owners, b)
        batches.add(sums, "", losses.double(), start)
        for name in selection.names:
            owner, _, attr = name.rpartition(".")
            module, calls = modules[owner], calls_of[owner]
            if not calls:
                raise UnsupportedModelError(
                    f"the backward pass does not reach {owner}, which holds the selected {name}"
                )
            if name in products:
                batches.add(
                    sums, name, _sum_calls(_per_sample(module, attr, a, d, products[name]) for a, d in calls), start
                )
            elif summed_per_mini_batch(_positions(module, calls)):
                _join(joined, name, calls, start, u)
            else:
                _add_weights_per_sample(sums, name, module, calls, batches, start, weight_piece)
    grads = {}
    for name in selection.names:
        if name in joined:
            module = modules[name.rpartition(".")[0]]
            per_batch = _linear_weight_per_batch if isinstance(module, nn.Linear) else _conv2d_weight_per_batch
            first, *rest = joined[name]
            grads[name] = per_batch(module, *first, rows, out.get(name))
            for a, d in rest:  # a module called several times: the sum over its calls
                grads[name] += per_batch(module, a, d, rows)
        else:
            grads[name] = (
                sums[name].reshape(kc, *selection.shapes[name]) if selection.entries[name] is None else sums[name]
            )
    return grads, sums[""].reshape(kc) / b


def _factors(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, owners: dict[str, nn.Module], b: int):
    """One forward and backward pass of the samples ``x``: ``(calls, ℓ)`` with ``calls[owner]`` the
    list of ``(a, δ)`` of each call of module ``owner`` (``owners``: name → module; empty if the
    backward does not reach it) and ``ℓ`` the ``(n,)`` per-sample losses.

    The backward asks autograd for the gradients at the owners' outputs only (their gradient
    edges, taken when each output is made, so an in-place op applied to it later does not
    change what is asked): no parameter gradient and no gradient of the input is formed, and the
    backward stops at the first owner."""
    inputs: dict[str, list[torch.Tensor]] = defaultdict(list)
    edges: dict[str, list] = defaultdict(list)

    def forward_hook(owner: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            inputs[owner].append(args[0].detach())
            edges[owner].append(get_gradient_edge(output) if output.requires_grad else None)  # else never reached

        return hook

    handles = [module.register_forward_hook(forward_hook(o)) for o, module in owners.items()]
    try:
        with torch.enable_grad():
            sample_losses = per_sample_losses(loss_fn, model(x), y)
    finally:
        for h in handles:
            h.remove()
    asked = [(o, c) for o in owners for c, edge in enumerate(edges[o]) if edge is not None]
    deltas = dict(
        zip(asked, _gradients_at(sample_losses.sum() / b, [edges[o][c] for o, c in asked]))
    )  # δ_n = (1/B) ∂ℓ_n/∂z_n
    reached = {o: all(deltas.get((o, c)) is not None for c in range(len(inputs[o]))) for o in owners}
    calls = {o: [(a, deltas[o, c].detach()) for c, a in enumerate(inputs[o])] if reached[o] else [] for o in owners}
    return calls, sample_losses.detach()


def _gradients_at(loss: torch.Tensor, edges: list) -> tuple:
    """``∂loss/∂z`` at each gradient edge (``None`` where the loss does not depend on it)."""
    if not edges or not loss.requires_grad:
        return (None,) * len(edges)
    return torch.autograd.grad(loss, edges, allow_unused=True)


def weight_path_owners(modules: dict[str, nn.Module]) -> frozenset[str]:
    """The names among ``modules`` whose whole weight takes the weight paths (``WEIGHT_PATH_MODULES``)."""
    return frozenset(n for n, m in modules.items() if isinstance(m, WEIGHT_PATH_MODULES))


def on_weight_path(selection: ParameterSelection, name: str, owners: frozenset[str]) -> bool:
    """Whether tensor ``name`` takes the weight paths (per sample or per mini-batch, module
    docstring): a whole ``weight`` of one of ``owners`` (:func:`weight_path_owners`). The other
    tensors, and sampled entries, are summed from per-sample products of their entries."""
    owner, _, attr = name.rpartition(".")
    return selection.entries[name] is None and attr == "weight" and owner in owners


def summed_per_mini_batch(positions: int) -> bool:
    """Whether a whole Linear/Conv2d weight whose module has ``positions`` output positions ``T``
    is summed per mini-batch from joined factors (``T < PER_SAMPLE_POSITIONS``) rather than
    through per-sample weight gradients (module docstring); the planner sizes memory by it."""
    return positions < PER_SAMPLE_POSITIONS


def _positions(module: nn.Linear | nn.Conv2d, calls: list[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """``T``: output positions (pixels, tokens) of one sample of ``module``, summed over its calls."""
    return sum(delta[:1].numel() for _, delta in calls) // module.weight.shape[0]


def _join(
    joined: dict[str, list[tuple[torch.Tensor, torch.Tensor]]], key: str, calls: list, start: int, u: int
) -> None:
    """Copy a piece's factors ``calls`` (samples ``start:``) into ``(U, ...)`` buffers
    ``joined[key]``, made at the first piece (no copy when one piece holds all ``U``)."""
    if key not in joined:
        joined[key] = [tuple(t if t.shape[0] == u else _room(t, u) for t in call) for call in calls]
        return
    for (a_all, d_all), (a, d) in zip(joined[key], calls):
        a_all[start : start + a.shape[0]], d_all[start : start + d.shape[0]] = a, d


def _room(first: torch.Tensor, u: int) -> torch.Tensor:
    """A ``(u, ...)`` buffer like ``first`` (a piece of samples), with ``first`` copied in at the start."""
    out = first.new_empty((u, *first.shape[1:]))
    out[: first.shape[0]] = first
    return out


def _per_sample(module: nn.Module, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """Per-sample contributions ``(N, S)`` of the ``S`` entries ``flat`` of ``module.<attr>``."""
    if isinstance(module, nn.Linear):
        return _linear(module, attr, a, delta, flat)
    if isinstance(module, nn.Conv2d):
        return _conv2d(module, attr, a, delta, flat)
    if isinstance(module, nn.LayerNorm):
        n = a.shape[0]
        width = math.prod(module.normalized_shape)
        xhat = F.layer_norm(a, module.normalized_shape, eps=module.eps).reshape(n, -1, width)
        return _affine(attr, xhat, delta.reshape(n, -1, width), flat)
    return _batchnorm(module, attr, a, delta, flat)


def _affine(attr: str, xhat: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """``xhat``, ``delta``: ``(N, T, E)``; weight ``Σ_T δ·x̂`` or bias ``Σ_T δ`` at entries ``flat``."""
    d = delta[:, :, flat]
    return (d * xhat[:, :, flat]).sum(1) if attr == "weight" else d.sum(1)


def _batchnorm(module: nn.Module, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d/2d in eval mode, channel axis 1, the selected channels ``flat``: weight
    ``Σ δ·(a − μ)/√(σ²+ε) = (Σ δ·a − μ Σ δ)/√(σ²+ε)`` (one fused pass, no normalised copy),
    bias ``Σ δ``."""
    n, c = a.shape[:2]
    d = delta.reshape(n, c, -1)
    d = d if flat.numel() == c else d[:, flat]  # a sorted selection of all c channels is all of them
    if attr == "bias":
        return d.sum(2)
    x = a.reshape(n, c, -1)
    x = x if flat.numel() == c else x[:, flat]
    dot = torch.bmm(d.reshape(-1, 1, d.shape[2]), x.reshape(-1, x.shape[2], 1)).reshape(n, -1)
    return (dot - module.running_mean[flat] * d.sum(2)) * torch.rsqrt(module.running_var[flat] + module.eps)


def _linear(module: nn.Linear, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    n = a.shape[0]
    a3 = a.reshape(n, -1, module.in_features)
    d3 = delta.reshape(n, -1, module.out_features)
    if attr == "bias":
        return d3.sum(1)[:, flat]
    rows, cols = flat // module.in_features, flat % module.in_features
    return (d3[:, :, rows] * a3[:, :, cols]).sum(1)


def _conv2d(module: nn.Conv2d, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    if attr == "bias":
        return delta.sum((2, 3))[:, flat]
    out_ch, in_per_group, kh, kw = module.weight.shape
    o, rest = flat // (in_per_group * kh * kw), flat % (in_per_group * kh * kw)
    c, r, s = rest // (kh * kw), (rest % (kh * kw)) // kw, rest % kw
    c_in = (o // (out_ch // module.groups)) * in_per_group + c
    a_pad = F.pad(a[:, c_in], _pad_widths(module, a.shape[2:]))  # (N, S, H+pads, W+pads)
    (dh, dw), (sh, sw) = module.dilation, module.stride
    h_out, w_out = delta.shape[2:]
    rows = (r * dh)[:, None] + sh * torch.arange(h_out, device=a.device)
    cols = (s * dw)[:, None] + sw * torch.arange(w_out, device=a.device)
    entry = torch.arange(flat.numel(), device=a.device)
    patches = a_pad[:, entry[:, None, None], rows[:, :, None], cols[:, None, :]]  # (N, S, H_out, W_out)
    return (patches * delta[:, o]).sum((2, 3))


def _sum_calls(terms: Iterator[torch.Tensor]) -> torch.Tensor:
    """The sum over a module's calls (one term per call of a shared module), in the first term's storage."""
    total = next(terms)
    for term in terms:
        total += term
    return total


class _Batches:
    """The mini-batches ``rows`` ``(Kc, B)`` of a chunk over its ``U`` distinct samples, as the
    sparse count matrix ``C`` ``(Kc, U)``, ``C[k, n]`` = times sample ``n`` is in mini-batch
    ``k`` (2 for a sample drawn twice, with replacement). ``C @ X`` sums per-sample rows ``X``
    ``(U, ...)`` into mini-batches: ``Kc·B`` additions per column, no gathered copy. CSR: on
    2 threads 1.5–2× faster than COO (and than a gather and sum on narrow rows; 10–30× on wide)."""

    def __init__(self, rows: torch.Tensor, num_samples: int, out: dict[str, torch.Tensor]):
        self.rows, self.num_samples, self.out = rows, num_samples, out
        kc = rows.shape[0]
        batch_major = torch.arange(kc, device=rows.device)[:, None] * num_samples + rows
        keys, self._counts = torch.unique(batch_major, return_counts=True)  # sorted by (k, n)
        self._batch, self._sample = keys // num_samples, keys % num_samples
        self._matrices: dict[tuple, torch.Tensor] = {}

    def matrix(self, dtype: torch.dtype, start: int, stop: int) -> torch.Tensor:
        """``C[:, start:stop]`` as a CSR tensor of ``dtype``, built once."""
        key = (dtype, start, stop)
        if key not in self._matrices:
            kc = self.rows.shape[0]
            batch, sample, counts = self._batch, self._sample, self._counts
            if (start, stop) != (0, self.num_samples):
                inside = (sample >= start) & (sample < stop)
                batch, sample, counts = batch[inside], sample[inside] - start, counts[inside]
            crow = torch.zeros(kc + 1, dtype=torch.int64, device=self.rows.device)
            crow[1:] = torch.bincount(batch, minlength=kc).cumsum(0)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
                self._matrices[key] = torch.sparse_csr_tensor(
                    crow, sample, counts.to(dtype), (kc, stop - start), check_invariants=True
                )
        return self._matrices[key]

    def add(self, sums: dict[str, torch.Tensor], key: str, per_sample: torch.Tensor, start: int) -> None:
        """``sums[key] += C[:, start:start+n] @ per_sample`` (``(Kc, width)``, zeroed at the first
        call, in ``out[key]`` if the engine was given it): the contributions ``per_sample``
        ``(n, ...)`` of samples ``start:start+n`` summed into their mini-batches."""
        flat = per_sample.reshape(per_sample.shape[0], -1)
        if key not in sums:
            kc = self.rows.shape[0]
            sums[key] = self.out[key].view(kc, -1).zero_() if key in self.out else flat.new_zeros(kc, flat.shape[1])
        sums[key].addmm_(self.matrix(flat.dtype, start, start + flat.shape[0]), flat)


def _add_weights_per_sample(
    sums: dict[str, torch.Tensor],
    name: str,
    module: nn.Linear | nn.Conv2d,
    calls: list,
    batches: _Batches,
    start: int,
    weight_piece: int | None,
) -> None:
    """Add the per-sample gradients of the whole weight ``name`` (samples ``start:`` of a piece,
    summed over the module's calls) into ``sums[name]``, ``weight_piece`` samples at a time."""
    per_sample = _linear_weight_per_sample if isinstance(module, nn.Linear) else _conv2d_weight_per_sample
    weight = module.weight
    step = weight_piece or max(1, WEIGHT_PIECE_BYTES // (weight.numel() * weight.element_size()))
    for first in range(0, calls[0][0].shape[0], step):
        grads = _sum_calls(per_sample(module, a[first : first + step], d[first : first + step]) for a, d in calls)
        batches.add(sums, name, grads, start + first)


def _gathered(per_sample: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``(Kc, B, ...)``: the rows ``(Kc, B)`` of ``per_sample`` ``(U, ...)`` (``index_select``,
    several times faster than advanced indexing on CPU)."""
    return per_sample.index_select(0, rows.flatten()).reshape(*rows.shape, *per_sample.shape[1:])


def _linear_weight_per_batch(
    module: nn.Linear, a: torch.Tensor, delta: torch.Tensor, rows: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Whole ``nn.Linear`` weight per mini-batch without per-sample gradients:
    ``g_k = Σ_{n∈Ω_k} Σ_T δ[n,T]ᵀ a[n,T]``, into ``out`` ``(Kc, O, I)`` if given: one batched
    matmul ``(m, O, B·T) @ (m, B·T, I)`` per ``m = GROUPED_BATCHES`` mini-batches, over their
    samples gathered by ``rows`` ``(Kc, B)`` (gathers that stay in cache: 4× faster than one
    gather and matmul of all ``Kc`` on a 64-wide MLP at B = 32)."""
    kc, u = rows.shape[0], a.shape[0]
    result = out if out is not None else a.new_empty((kc, *module.weight.shape))
    flat_a, flat_delta = a.reshape(u, -1), delta.reshape(u, -1)  # once: a copy when not contiguous
    for first in range(0, kc, GROUPED_BATCHES):
        group = rows[first : first + GROUPED_BATCHES]
        d = _gathered(flat_delta, group).reshape(group.shape[0], -1, module.out_features)
        x = _gathered(flat_a, group).reshape(group.shape[0], -1, module.in_features)
        torch.bmm(d.transpose(1, 2), x, out=result[first : first + group.shape[0]])
    return result


def _linear_weight_per_sample(module: nn.Linear, a: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``(N, O, I)``: ``Σ_T δ[n,T]ᵀ a[n,T]`` of each sample, one batched matmul."""
    n = a.shape[0]
    return torch.bmm(delta.reshape(n, -1, module.out_features).transpose(1, 2), a.reshape(n, -1, module.in_features))


def _conv2d_weight_per_batch(
    module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, rows: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``(Kc, *weight.shape)``, into ``out`` if given: a whole Conv2d weight per mini-batch, the
    weight half of the convolution's backward with ``GROUPED_BATCHES`` mini-batches stacked along
    the channels as groups, position ``j`` of each holding sample ``j`` of its mini-batch (input
    ``(B, m·C_in, H, W)``; one call per ``m`` mini-batches, 1.2–2.9× faster than one call each
    on the small feature maps this path takes; fewer when their output would pass
    ``WEIGHT_PIECE_BYTES``, :func:`batches_per_call`). Input maps with fewer positions than the
    kernel take :func:`_conv2d_weight_per_batch_folded` instead."""
    if folds_feature_maps(module, a.shape[2:]):
        return _conv2d_weight_per_batch_folded(module, a, delta, rows, out)
    a, padding = _explicitly_padded(module, a)
    kc, b = rows.shape
    result = out if out is not None else a.new_empty((kc, *module.weight.shape))
    step = batches_per_call(module.weight.numel(), a.element_size())
    for first in range(0, kc, step):
        order = rows[first : first + step].T.flatten()  # sample j of every mini-batch, then j + 1
        stacked_a = a.index_select(0, order).reshape(b, -1, *a.shape[2:])
        stacked_delta = delta.index_select(0, order).reshape(b, -1, *delta.shape[2:])
        copies = order.numel() // b
        result[first : first + copies] = _conv2d_weight_grad(module, stacked_a, stacked_delta, padding, copies).view(
            copies, *module.weight.shape
        )
    return result


def batches_per_call(scratch_floats: int, itemsize: int) -> int:
    """Mini-batches per call of a per-mini-batch conv weight path whose scratch is
    ``scratch_floats`` per mini-batch: ``GROUPED_BATCHES``, fewer when the scratch would pass
    ``WEIGHT_PIECE_BYTES`` (at least one)."""
    return max(1, min(GROUPED_BATCHES, WEIGHT_PIECE_BYTES // (scratch_floats * itemsize)))


def folds_feature_maps(module: nn.Conv2d, spatial: torch.Size) -> bool:
    """Whether a whole weight of ``module`` summed per mini-batch takes the outer products of
    whole feature maps (:func:`_conv2d_weight_per_batch_folded`): an ungrouped convolution whose
    input maps (``spatial``) have fewer positions ``Q`` than its kernel has taps, so that the
    products cost ``Q/(kh·kw)`` of the convolution's FLOPs (4/9 on the 2×2 maps of a ResNet's
    last stage on 8×8 images)."""
    return module.groups == 1 and math.prod(spatial) < math.prod(module.kernel_size)


def _conv2d_weight_per_batch_folded(
    module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, rows: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``(Kc, *weight.shape)``, into ``out`` if given: a whole Conv2d weight per mini-batch from the
    outer products of whole feature maps, ``M_k[p, o, q, c] = Σ_{n∈Ω_k} δ_n[o, p]·a_n[c, q]`` over
    the output positions ``p`` and input positions ``q`` (one batched matmul
    ``(m, P·O, B) @ (m, B, Q·C)`` per ``m`` mini-batches, :func:`batches_per_call`), folded onto the taps:
    ``g_k[o, c, t] = Σ_{(p, q) → t} M_k[p, o, q, c]``, where tap ``t = (r, s)`` of output position
    ``p`` reads input position ``q = p·stride + t·dilation − padding`` (:func:`_taps_of_positions`).
    ``2·B·P·O·Q·C`` FLOPs per mini-batch against the convolution's ``2·B·P·O·C·kh·kw``; on the
    2×2 maps of ResNet-20's last stage (64 channels, 1–2 threads) 1.3–2.3× faster than the
    grouped convolution at B = 32 and 2.6–3.0× at B = 400."""
    kc, u = rows.shape[0], a.shape[0]
    out_ch, in_ch, kh, kw = module.weight.shape
    positions_in, positions_out = math.prod(a.shape[2:]), math.prod(delta.shape[2:])
    flat_a = a.permute(0, 2, 3, 1).reshape(
        u, -1
    )  # (U, Q·C), position-major: each product slice is a contiguous row of C
    flat_delta = delta.permute(0, 2, 3, 1).reshape(u, -1)  # (U, P·O)
    taps = _taps_of_positions(module, a.shape[2:], delta.shape[2:])
    result = out if out is not None else a.new_empty((kc, *module.weight.shape))
    step = batches_per_call((positions_out * positions_in + kh * kw) * out_ch * in_ch, a.element_size())
    tap_major = a.new_empty((min(step, kc), kh * kw, out_ch, in_ch))
    for first in range(0, kc, step):
        group = rows[first : first + step]
        m = group.shape[0]
        products = torch.bmm(_gathered(flat_delta, group).transpose(1, 2), _gathered(flat_a, group))
        products = products.view(m, positions_out, out_ch, positions_in, in_ch)
        folded = tap_major[:m]
        for t, pairs in enumerate(taps):
            term = [products[:, p, :, q] for p, q in pairs]
            if not term:
                folded[:, t].zero_()
            elif len(term) == 1:
                folded[:, t].copy_(term[0])
            else:
                torch.add(term[0], term[1], out=folded[:, t])
                for more in term[2:]:
                    folded[:, t] += more
        result[first : first + m] = folded.permute(0, 2, 3, 1).unflatten(3, (kh, kw))
    return result


def _taps_of_positions(
    module: nn.Conv2d, spatial_in: torch.Size, spatial_out: torch.Size
) -> list[list[tuple[int, int]]]:
    """For each tap ``t = r·kw + s`` of the kernel, the pairs ``(p, q)`` of flat output and input
    positions it joins: input row ``p_h·stride_h + r·dilation_h − top``, column likewise, inside the
    (unpadded) input map (zero padding contributes nothing)."""
    left, _, top, _ = _pad_widths(module, spatial_in)
    (h_in, w_in), (h_out, w_out) = spatial_in, spatial_out
    (kh, kw), (sh, sw), (dh, dw) = module.kernel_size, module.stride, module.dilation
    taps = []
    for r in range(kh):
        for s in range(kw):
            pairs = []
            for ph in range(h_out):
                for pw in range(w_out):
                    qh, qw = ph * sh + r * dh - top, pw * sw + s * dw - left
                    if 0 <= qh < h_in and 0 <= qw < w_in:
                        pairs.append((ph * w_out + pw, qh * w_in + qw))
            taps.append(pairs)
    return taps


def _conv2d_weight_per_sample(module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``(N, *weight.shape)``: each sample's Conv2d weight gradient in one call of the weight half
    of the convolution's backward, the ``N`` samples stacked along the channels as ``N·groups``
    groups (input ``(1, N·C_in, H, W)``, output gradient ``(1, N·C_out, H', W')``)."""
    n = a.shape[0]
    a, padding = _explicitly_padded(module, a)
    grad = _conv2d_weight_grad(
        module, a.reshape(1, -1, *a.shape[2:]), delta.reshape(1, -1, *delta.shape[2:]), padding, n
    )
    return grad.reshape(n, *module.weight.shape)


def _conv2d_weight_grad(
    module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, padding: tuple[int, int], copies: int
) -> torch.Tensor:
    """The weight half of the convolution's backward for ``copies`` stacked copies of the weight
    (``copies·groups`` groups), ``(copies·C_out, C_in/groups, kh, kw)``: ``torch.nn.grad.conv2d_weight``,
    the kernel autograd runs for a convolution's weight, without forming the input gradient."""
    out_ch, *rest = module.weight.shape
    return torch.nn.grad.conv2d_weight(
        a, (copies * out_ch, *rest), delta, module.stride, padding, module.dilation, copies * module.groups
    )


def _explicitly_padded(module: nn.Conv2d, a: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(a, (top, left))``: ``a`` with asymmetric ``"same"`` padding applied (then no padding
    is left to the convolution), else ``a`` and the conv's symmetric padding."""
    left, right, top, bottom = _pad_widths(module, a.shape[2:])
    if (left, top) != (right, bottom):
        return F.pad(a, (left, right, top, bottom)), (0, 0)
    return a, (top, left)


def _pad_widths(module: nn.Conv2d, spatial: torch.Size) -> tuple[int, int, int, int]:
    """``F.pad`` widths (left, right, top, bottom) equivalent to the conv's padding."""
    if module.padding == "valid":
        return (0, 0, 0, 0)
    if module.padding == "same":
        widths = []
        for k, d in zip(reversed(module.kernel_size), reversed(module.dilation)):
            total = d * (k - 1)
            widths += [total // 2, total - total // 2]
        return tuple(widths)
    ph, pw = module.padding
    return (pw, pw, ph, ph)
