"""The large-batch trick: mini-batch gradients of *selected entries only*, from one big pass.

For a chunk of ``Kc`` mini-batches the ``Kc·B`` samples go through the model in one forward
pass (eval mode, so samples are independent), with the loss
``L = Σ_k loss_fn(out[Ω_k], y[Ω_k])``. One backward pass gives ``δ_n = ∂L/∂z_n`` at the output
``z`` of every module holding a selected entry; that already carries the ``1/B`` of the mean.
The per-sample contribution of an entry is then a product of the module input ``a_n`` and
``δ_n`` restricted to that entry, and summing the contributions of ``Ω_k`` gives exactly the
entry of ``g_k`` (eq. 1). Per-sample gradients of whole tensors are never formed; weight
gradients are not computed at all when the input is a float tensor (backward to the input).

Per-sample contribution of a selected entry (``T`` = positions: tokens, pixels):

- ``nn.Linear`` weight ``(o, i)``: ``Σ_T δ[n,T,o]·a[n,T,i]``; bias ``o``: ``Σ_T δ[n,T,o]``. A
  whole selected weight is summed per mini-batch directly, ``g_k = Σ_{n∈Ω_k} δ_nᵀ a_n`` (one
  batched matmul), so even all entries are cheap.
- ``nn.Conv2d`` (zero padding, any stride/dilation/groups) weight ``(o, c, r, s)``:
  ``Σ_{p,q} δ[n,o,p,q]·a_pad[n, c_in, r·d_h + p·s_h, s·d_w + q·s_w]``; bias: ``Σ δ[n,o]``. A
  whole selected weight (groups 1, symmetric padding) is summed per mini-batch directly from
  ``unfold(a)``: ``g_k = Σ_{n∈Ω_k} δ_n unfold(a_n)ᵀ``.
- ``nn.BatchNorm1d/2d`` with running statistics: ``x̂ = (a − μ)/√(σ²+ε)``, weight ``c``:
  ``Σ δ[n,c]·x̂[n,c]``; bias: ``Σ δ[n,c]``.
- ``nn.LayerNorm``: ``x̂ = layer_norm(a)`` without affine, same formulas per normalised entry.

Other modules may appear anywhere in the net, but a selected entry must belong to one of these.
The model's forward must treat samples independently (true in eval mode for standard layers).
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.gradients.engines import LossFn
from sgdnoise.gradients.selection import ParameterSelection

SUPPORTED_MODULES = (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


class UnsupportedModelError(RuntimeError):
    """The entries engine cannot handle this model/selection (the caller falls back to the loop)."""


def entries_unsupported_reason(model: nn.Module, selection: ParameterSelection) -> str | None:
    """Why :func:`entry_gradients` cannot take ``model``/``selection``, or ``None`` if it can."""
    modules = dict(model.named_modules())
    for name in selection.names:
        owner, _, attr = name.rpartition(".")
        module = modules.get(owner)
        if not isinstance(module, SUPPORTED_MODULES) or attr not in ("weight", "bias"):
            return f"parameter {name} belongs to a {type(module).__name__}, not one of {[m.__name__ for m in SUPPORTED_MODULES]}"
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            return f"{owner} uses padding_mode={module.padding_mode!r} (only 'zeros' is supported)"
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.running_mean is None:
            return f"{owner} has no running statistics, so samples are not independent"
    return None


def entry_gradients(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, selection: ParameterSelection
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Selected entries of the mini-batch gradients of a chunk (see module docstring).

    ``x``: ``(Kc, B, ...)``, ``y``: ``(Kc, B, ...)``. Returns ``(grads, losses)``: ``grads[name]``
    is ``(Kc, *shape)`` for a whole selected tensor, ``(Kc, n)`` for ``n`` selected entries (the
    layout of :meth:`ParameterSelection.take`); ``losses`` is ``(Kc,)``. Raises
    :class:`UnsupportedModelError` when a selected module is not reached by the backward pass.
    """
    kc, b = x.shape[:2]
    modules = dict(model.named_modules())
    owners = {name.rpartition(".")[0] for name in selection.names}
    inputs: dict[str, list[torch.Tensor]] = defaultdict(list)
    deltas: dict[str, dict[int, torch.Tensor]] = defaultdict(dict)

    def forward_hook(owner: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            call = len(inputs[owner])
            inputs[owner].append(args[0].detach())
            if output.requires_grad:  # else the backward never reaches it: reported below
                output.register_hook(lambda g: deltas[owner].__setitem__(call, g.detach()))

        return hook

    handles = [modules[o].register_forward_hook(forward_hook(o)) for o in owners]
    try:
        with torch.enable_grad():
            flat_x = x.reshape(kc * b, *x.shape[2:])
            wrt = [flat_x.detach().requires_grad_(True)] if flat_x.is_floating_point() else [
                p for p in model.parameters() if p.requires_grad
            ]
            out = model(wrt[0] if flat_x.is_floating_point() else flat_x)
            out = out.reshape(kc, b, *out.shape[1:])
            losses = _batch_losses(loss_fn, out, y)
            torch.autograd.grad(losses.sum(), wrt, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    grads = {}
    for name in selection.names:
        owner, _, attr = name.rpartition(".")
        if len(deltas[owner]) != len(inputs[owner]) or not inputs[owner]:
            raise UnsupportedModelError(f"the backward pass does not reach {owner}, which holds the selected {name}")
        calls = [(inputs[owner][c], deltas[owner][c]) for c in range(len(inputs[owner]))]
        module = modules[owner]
        if selection.entries[name] is None and isinstance(module, nn.Linear):
            grads[name] = sum(_linear_per_batch(module, attr, a, d, kc) for a, d in calls)
            continue
        if selection.entries[name] is None and attr == "weight" and _unfoldable(module):
            grads[name] = sum(_conv2d_weight_per_batch(module, a, d, kc) for a, d in calls)
            continue
        flat = selection.flat_indices(name).to(x.device)
        summed = sum(_per_sample(module, attr, a, d, flat) for a, d in calls).reshape(kc, b, -1).sum(1)
        grads[name] = summed.reshape(kc, *selection.shapes[name]) if selection.entries[name] is None else summed
    return grads, losses.detach().double()


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
    """BatchNorm1d/2d in eval mode, channel axis 1; only the selected channels are normalised."""
    n, c = a.shape[:2]
    d = delta.reshape(n, c, -1)[:, flat]
    if attr == "bias":
        return d.sum(2)
    mean, var = module.running_mean[flat, None], module.running_var[flat, None]
    xhat = (a.reshape(n, c, -1)[:, flat] - mean) * torch.rsqrt(var + module.eps)
    return (d * xhat).sum(2)


def _batch_losses(loss_fn: LossFn, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(Kc,)`` mean losses of the mini-batches ``out[k], y[k]``: one ``vmap`` call, or one call
    per mini-batch if ``torch.func`` cannot batch ``loss_fn``."""
    try:
        return torch.func.vmap(loss_fn)(out, y)
    except (RuntimeError, NotImplementedError, ValueError):
        return torch.stack([loss_fn(out[k], y[k]) for k in range(out.shape[0])])


def _linear_per_batch(module: nn.Linear, attr: str, a: torch.Tensor, delta: torch.Tensor, kc: int) -> torch.Tensor:
    """Whole ``nn.Linear`` weight or bias per mini-batch without per-sample gradients:
    ``g_k = Σ_{n∈Ω_k} Σ_T δ[n,T]ᵀ a[n,T]``, one batched matmul ``(Kc, O, B·T) @ (Kc, B·T, I)``;
    bias ``Σ_{n∈Ω_k} Σ_T δ[n,T]``."""
    d3 = delta.reshape(kc, -1, module.out_features)
    if attr == "bias":
        return d3.sum(1)
    return torch.bmm(d3.transpose(1, 2), a.reshape(kc, -1, module.in_features))


def _linear(module: nn.Linear, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    n = a.shape[0]
    a3 = a.reshape(n, -1, module.in_features)
    d3 = delta.reshape(n, -1, module.out_features)
    if attr == "bias":
        return d3[:, :, flat].sum(1)
    rows, cols = flat // module.in_features, flat % module.in_features
    return (d3[:, :, rows] * a3[:, :, cols]).sum(1)


def _conv2d(module: nn.Conv2d, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    if attr == "bias":
        return delta[:, flat].sum((2, 3))
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


def _unfoldable(module: nn.Module) -> bool:
    """A Conv2d whose whole weight can be summed per mini-batch through ``F.unfold``."""
    if not isinstance(module, nn.Conv2d) or module.groups != 1:
        return False
    left, right, top, bottom = _pad_widths(module, torch.Size())
    return left == right and top == bottom


def _conv2d_weight_per_batch(module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, kc: int) -> torch.Tensor:
    """Whole Conv2d weight (groups 1) per mini-batch: with ``U = unfold(a)`` of shape
    ``(N, C·kh·kw, L)``, ``g_k = Σ_{n∈Ω_k} δ_n U_nᵀ``, one batched matmul per chunk."""
    left, _, top, _ = _pad_widths(module, torch.Size())
    cols = F.unfold(a, module.kernel_size, dilation=module.dilation, padding=(top, left), stride=module.stride)
    out_ch, positions = delta.shape[1], cols.shape[2]
    d = delta.reshape(kc, -1, out_ch, positions).transpose(1, 2).reshape(kc, out_ch, -1)
    u = cols.reshape(kc, -1, cols.shape[1], positions).transpose(2, 3).reshape(kc, -1, cols.shape[1])
    return torch.bmm(d, u).reshape(kc, *module.weight.shape)


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
