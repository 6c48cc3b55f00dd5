"""The entries engine's chunk: every computed tensor's mini-batch gradients from per-sample factors.

The distinct samples of a chunk go through the model a piece at a time (:mod:`.factors`). Each
piece's per-sample contributions — products of single entries (:mod:`.products`) or per-sample
weight gradients (:mod:`.linear`, :mod:`.conv`) — are summed into the mini-batches at once by the
count matrix (:mod:`.counts`); the factors of weights summed per mini-batch are kept for all
samples (:mod:`.joined`) and summed after the last piece. Which way a tensor takes is decided by
:mod:`.paths`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from sgdnoise.gradients.engines.base import UnsupportedModelError
from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.engines.entries.conv import conv2d_weight_per_batch, conv2d_weight_per_sample
from sgdnoise.gradients.engines.entries.counts import MiniBatchCounts
from sgdnoise.gradients.engines.entries.factors import Calls, module_factors
from sgdnoise.gradients.engines.entries.joined import join
from sgdnoise.gradients.engines.entries.linear import linear_weight_per_batch, linear_weight_per_sample
from sgdnoise.gradients.engines.entries.products import per_sample_products
from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.plumbing.losses import LossFn


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
    """Selected entries of the mini-batch gradients of a chunk (module docstring).

    ``x``: ``(U, ...)`` and ``y``: ``(U, ...)``, the *distinct* samples of the chunk;
    ``rows``: ``(Kc, B)`` int64, mini-batch ``k`` = samples ``rows[k]`` (a sample may sit in many
    mini-batches, or twice in one when drawn with replacement). Returns ``(grads, losses)``:
    ``grads[name]`` is ``(Kc, *shape)`` for a whole selected tensor, ``(Kc, n)`` for ``n``
    selected entries (the layout of :meth:`ParameterSelection.take`); ``losses`` is ``(Kc,)``,
    the mean of the per-sample losses over each mini-batch. The distinct samples go through the
    model ``piece`` at a time, each piece summed into the mini-batches before the next;
    per-sample weight gradients are formed ``weight_piece`` samples at a time (default
    :func:`paths.samples_per_weight_piece`). ``out``: name → tensor of the layout of
    ``grads[name]`` to write that gradient into (e.g. a slice of a larger buffer, which saves a
    chunk-sized copy); names it lacks get new tensors. Raises :class:`UnsupportedModelError`
    when a selected module is not reached by the backward pass.
    """
    kc, b = rows.shape
    u = x.shape[0]
    modules = dict(model.named_modules())
    owners = {o: modules[o] for o in {name.rpartition(".")[0] for name in selection.names}}
    out = out or {}
    counts = MiniBatchCounts(rows, u, out)
    joined: dict[str, Calls] = {}  # weight name -> factors of its module, all U samples
    weight_owners = paths.weight_path_owners({o: type(m) for o, m in owners.items()})
    products = {  # tensors summed from per-sample products of their selected entries (flat indices)
        name: selection.flat_indices(name).to(x.device)
        for name in selection.names
        if not paths.on_weight_path(selection, name, weight_owners)
    }
    sums: dict[str, torch.Tensor] = {}  # name -> (Kc, width), summed into (in out[name] if given)
    for start in range(0, u, piece):
        calls_of, losses = module_factors(model, loss_fn, x[start : start + piece], y[start : start + piece], owners, b)
        counts.add(sums, "", losses.double(), start)
        for name in selection.names:
            owner, _, attr = name.rpartition(".")
            module, calls = modules[owner], calls_of[owner]
            if not calls:
                raise UnsupportedModelError(
                    f"the backward pass does not reach {owner}, which holds the selected {name}"
                )
            if name in products:
                terms = (per_sample_products(module, attr, a, d, products[name]) for a, d in calls)
                counts.add(sums, name, _sum_calls(terms), start)
            elif paths.summed_per_mini_batch(_positions(module, calls)):
                join(joined, name, calls, start, u)
            else:
                _add_weights_per_sample(sums, name, module, calls, counts, start, weight_piece)
    grads = {}
    for name in selection.names:
        if name in joined:
            module = modules[name.rpartition(".")[0]]
            per_batch = linear_weight_per_batch if isinstance(module, nn.Linear) else conv2d_weight_per_batch
            first, *rest = joined[name]
            grads[name] = per_batch(module, *first, rows, out.get(name))
            for a, d in rest:  # a module called several times: the sum over its calls
                grads[name] += per_batch(module, a, d, rows)
        else:
            grads[name] = (
                sums[name].reshape(kc, *selection.shapes[name]) if selection.entries[name] is None else sums[name]
            )
    return grads, sums[""].reshape(kc) / b


def _positions(module: nn.Linear | nn.Conv2d, calls: Calls) -> int:
    """``T``: output positions (pixels, tokens) of one sample of ``module``, summed over its calls."""
    return sum(delta[:1].numel() for _, delta in calls) // module.weight.shape[0]


def _add_weights_per_sample(
    sums: dict[str, torch.Tensor],
    name: str,
    module: nn.Linear | nn.Conv2d,
    calls: Calls,
    counts: MiniBatchCounts,
    start: int,
    weight_piece: int | None,
) -> None:
    """Add the per-sample gradients of the whole weight ``name`` (samples ``start:`` of a piece,
    summed over the module's calls) into ``sums[name]``, ``weight_piece`` samples at a time."""
    per_sample = linear_weight_per_sample if isinstance(module, nn.Linear) else conv2d_weight_per_sample
    step = weight_piece or paths.samples_per_weight_piece(module.weight)
    for first in range(0, calls[0][0].shape[0], step):
        grads = _sum_calls(per_sample(module, a[first : first + step], d[first : first + step]) for a, d in calls)
        counts.add(sums, name, grads, start + first)


def _sum_calls(terms: Iterator[torch.Tensor]) -> torch.Tensor:
    """The sum over a module's calls (one term per call of a shared module), in the first term's storage."""
    total = next(terms)
    for term in terms:
        total += term
    return total
