"""Per-sample contributions of single entries (and of tensors outside the weight paths).

For a module holding computed entries, sample ``n``'s contribution to entry ``j`` of its
parameter is a product of the module input ``a_n`` and output gradient ``δ_n`` restricted to that
entry (``T`` = output positions: tokens, pixels; all sums over ``T``):

- ``nn.Linear`` weight ``(o, i)``: ``Σ_T δ[n,T,o]·a[n,T,i]``; bias ``o``: ``Σ_T δ[n,T,o]``.
- ``nn.Conv2d`` (zero padding, any stride/dilation/groups) weight ``(o, c, r, s)``:
  ``Σ_{p,q} δ[n,o,p,q]·a_pad[n, c_in, r·d_h + p·s_h, s·d_w + q·s_w]``; bias ``o``: ``Σ δ[n,o]``.
- ``nn.BatchNorm1d/2d`` with running statistics, ``x̂ = (a − μ)/√(σ²+ε)``: weight ``c``:
  ``Σ δ[n,c]·x̂[n,c]``; bias: ``Σ δ[n,c]``.
- ``nn.LayerNorm``: ``x̂ = layer_norm(a)`` without affine, the same per normalised entry.

Summed over the samples of ``Ω_k`` they give exactly the entry of ``g_k`` (eq. 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.gradients.engines.entries.padding import pad_widths


def per_sample_products(
    module: nn.Module, attr: str, a: torch.Tensor, delta: torch.Tensor, flat: torch.Tensor
) -> torch.Tensor:
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
    a_pad = F.pad(a[:, c_in], pad_widths(module, a.shape[2:]))  # (N, S, H+pads, W+pads)
    (dh, dw), (sh, sw) = module.dilation, module.stride
    h_out, w_out = delta.shape[2:]
    rows = (r * dh)[:, None] + sh * torch.arange(h_out, device=a.device)
    cols = (s * dw)[:, None] + sw * torch.arange(w_out, device=a.device)
    entry = torch.arange(flat.numel(), device=a.device)
    patches = a_pad[:, entry[:, None, None], rows[:, :, None], cols[:, None, :]]  # (N, S, H_out, W_out)
    return (patches * delta[:, o]).sum((2, 3))
