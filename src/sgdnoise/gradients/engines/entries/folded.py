"""A whole ``nn.Conv2d`` weight per mini-batch from the outer products of whole feature maps.

When the input maps have fewer positions ``Q`` than the kernel has taps (the 2×2 maps of a
ResNet's last stage on 8×8 images, 3×3 kernels), most of a convolution's products are with the
zero padding. Instead, the outer products of whole maps ``M_k[p, o, q, c] = Σ_{n∈Ω_k}
δ_n[o, p]·a_n[c, q]`` (``p`` output and ``q`` input positions) are formed by one batched matmul
and folded onto the taps: tap ``t = (r, s)`` of output position ``p`` reads input position
``q = p·stride + t·dilation − padding``, so ``g_k[o, c, t] = Σ_{(p, q) → t} M_k[p, o, q, c]``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.engines.entries.counts import gathered
from sgdnoise.gradients.engines.entries.padding import pad_widths


def conv2d_weight_per_batch_folded(
    module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, rows: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``(Kc, *weight.shape)``, into ``out`` if given: the weight gradient of each mini-batch
    ``rows[k]`` (``rows`` ``(Kc, B)`` into the factors ``a`` ``(U, C, H, W)`` and ``delta``
    ``(U, O, H', W')``) from the outer products of whole maps (module docstring): one batched
    matmul ``(m, P·O, B) @ (m, B, Q·C)`` per ``m`` mini-batches (:func:`paths.batches_per_call`),
    folded onto the taps (:func:`taps_of_positions`). ``2·B·P·O·Q·C`` FLOPs per mini-batch
    against the convolution's ``2·B·P·O·C·kh·kw``."""
    kc, u = rows.shape[0], a.shape[0]
    out_ch, in_ch, kh, kw = module.weight.shape
    positions_in, positions_out = math.prod(a.shape[2:]), math.prod(delta.shape[2:])
    # (U, Q·C), position-major: each product slice is a contiguous row of C
    flat_a = a.permute(0, 2, 3, 1).reshape(u, -1)
    flat_delta = delta.permute(0, 2, 3, 1).reshape(u, -1)  # (U, P·O)
    taps = taps_of_positions(module, a.shape[2:], delta.shape[2:])
    result = out if out is not None else a.new_empty((kc, *module.weight.shape))
    step = paths.batches_per_call((positions_out * positions_in + kh * kw) * out_ch * in_ch, a.element_size())
    tap_major = a.new_empty((min(step, kc), kh * kw, out_ch, in_ch))
    for first in range(0, kc, step):
        group = rows[first : first + step]
        m = group.shape[0]
        products = torch.bmm(gathered(flat_delta, group).transpose(1, 2), gathered(flat_a, group))
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


def taps_of_positions(
    module: nn.Conv2d, spatial_in: torch.Size, spatial_out: torch.Size
) -> list[list[tuple[int, int]]]:
    """For each tap ``t = r·kw + s`` of the kernel, the pairs ``(p, q)`` of flat output and input
    positions it joins: input row ``p_h·stride_h + r·dilation_h − top``, column likewise, inside the
    (unpadded) input map (zero padding contributes nothing)."""
    left, _, top, _ = pad_widths(module, spatial_in)
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
