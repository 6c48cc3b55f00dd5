"""Linear layers over a leading seed axis, each seed's product rounded exactly as the unbatched layer's.

An SGD ensemble is bit-identical to ``torch.optim.SGD`` run seed by seed only if every seed's
products round as one unbatched step's do. Batching them naively does not: vmap's rule for
``F.linear`` adds the bias after the batched GEMM (the unbatched layer fuses it into ``addmm``,
which rounds differently in float64), ``torch.bmm``/``baddbmm`` switch to a naive kernel for
products below :data:`NAIVE_BMM_SIZE` multiply-adds (ATen ``baddbmm_out_cpu``), and MKL's
small-matrix GEMM rounds differently when an operand or the result does not start on a 64-byte
boundary, as every tensor of an unbatched step does.

So :func:`seedwise_mm` copies each seed's operands to 64-byte aligned blocks (same per-seed
layout) and takes one ``baddbmm``/``bmm`` where that rounds per seed as ``addmm``/``mm``, and a
seed-by-seed product where it does not. :class:`SeedLinearMode` routes every 2-D ``F.linear``
of a model run under ``vmap`` through it (forward, and the backward autograd forms for one
layer: ``∂x = g W``, ``∂W = gᵀ x``, ``∂b = Σ_rows g``). With several threads MKL may split one
product's sum across threads differently in the batched and the single call, so exactness holds
with one intra-op thread (CPU); other devices take the batched call.

Shapes: stacked tensors carry the seed axis first, ``a (S, r, k)``, ``b (S, k, c)``, ``bias (S, c)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

NAIVE_BMM_SIZE = 400  # contraction × rows × cols below which bmm/baddbmm take ATen's naive kernel
ALIGN = 64  # bytes: where MKL's small GEMM rounds as it does for the unbatched step's tensors


def _is_aligned(t: torch.Tensor) -> bool:
    return t.data_ptr() % ALIGN == 0 and (t.stride(0) * t.element_size()) % ALIGN == 0


def _aligned(t: torch.Tensor) -> torch.Tensor:
    """``t`` (S, r, c) with each seed's matrix starting on a 64-byte boundary, in the same
    per-seed layout (row- or column-major); ``t`` itself when it already is."""
    if _is_aligned(t) and (t.stride(2) == 1 or t.stride(1) == 1):
        return t
    column_major = t.stride(1) == 1 and t.stride(2) != 1
    src = t.transpose(1, 2) if column_major else t
    n, rows, cols = src.shape
    per_seed = -(-rows * cols * t.element_size() // ALIGN) * ALIGN // t.element_size()
    out = torch.empty(n * per_seed, dtype=t.dtype, device=t.device).as_strided((n, rows, cols), (per_seed, cols, 1))
    out.copy_(src)
    return out.transpose(1, 2) if column_major else out


def seedwise_mm(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``bias[s] + a[s] @ b[s]`` for every seed s, ``(S, r, c)``, rounded as the unbatched
    ``addmm``/``mm`` would: one batched call when ATen/MKL round it per seed exactly so, else
    seed by seed."""
    a, b = _aligned(a), _aligned(b)
    n, rows, cols = a.shape[0], a.shape[1], b.shape[2]
    batched_ok = a.shape[2] * rows * cols >= NAIVE_BMM_SIZE and (rows * cols * a.element_size()) % ALIGN == 0
    if batched_ok or a.device.type != "cpu":
        if bias is None:
            return torch.bmm(a, b)
        return torch.baddbmm(bias[:, None, :].expand(n, rows, cols), a, b)
    if bias is None:
        return torch.stack([torch.mm(x, y) for x, y in zip(a, b)])
    return torch.stack([torch.addmm(c, x, y) for c, x, y in zip(bias, a, b)])


def _stacked(t: torch.Tensor, dim: int | None, n: int) -> torch.Tensor:
    return t.movedim(dim, 0) if dim is not None else t.expand(n, *t.shape)


class _StackedLinear(torch.autograd.Function):
    """Every seed's ``F.linear`` on stacked tensors ``x (S, B, in)``, ``w (S, out, in)``, ``b (S, out)``
    or None, with the gradients autograd gives one unbatched layer (``addmm(b, x, w.t())``:
    ``∂x = g w``, ``∂w = gᵀ x``, ``∂b = Σ_rows g``), each product rounded as there."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return seedwise_mm(x, w.transpose(1, 2), b)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return (
            seedwise_mm(grad_out, w) if need_x else None,
            seedwise_mm(grad_out.transpose(1, 2), x) if need_w else None,
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


class SeedLinearMode(TorchFunctionMode):
    """Inside the ``with`` block, every 2-D ``F.linear`` call is one seed's layer whose batching
    rule under ``vmap`` is :func:`seedwise_mm` (forward and backward); other calls run unchanged."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear and args[0].ndim == 2:
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            return _SeedLinear.apply(args[0], args[1], bias)
        return func(*args, **kwargs)
