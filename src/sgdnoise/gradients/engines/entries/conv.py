"""A whole ``nn.Conv2d`` weight through the weight half of the convolution's backward.

The weight gradient of a convolution over a batch sums its samples; stacking ``m`` inputs along
the channels as ``m·groups`` groups gives ``m`` separate weight gradients in one call
(:func:`conv2d_weight_grad`, ``torch.nn.grad.conv2d_weight``, the kernel autograd runs). Two uses:

- per sample (:func:`conv2d_weight_per_sample`): the ``N`` samples of a piece as groups;
- per mini-batch (:func:`conv2d_weight_per_batch`): ``m`` mini-batches as groups, position ``j``
  of the batch axis holding sample ``j`` of each, so the call sums each mini-batch; a conv whose
  input maps have fewer positions than its kernel takes the folded outer products instead
  (:mod:`.folded`).
"""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.engines.entries.folded import conv2d_weight_per_batch_folded
from sgdnoise.gradients.engines.entries.padding import explicitly_padded


def conv2d_weight_grad(
    module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, padding: tuple[int, int], copies: int
) -> torch.Tensor:
    """``(copies·C_out, C_in/groups, kh, kw)``: the weight gradient of ``module``'s convolution
    with ``copies`` copies of its weight stacked as ``copies·groups`` groups, for input ``a``
    ``(N, copies·C_in, H, W)`` and output gradient ``delta`` ``(N, copies·C_out, H', W')``
    (``padding``: the symmetric padding left to the convolution). The input gradient is not formed."""
    out_ch, *rest = module.weight.shape
    return torch.nn.grad.conv2d_weight(
        a, (copies * out_ch, *rest), delta, module.stride, padding, module.dilation, copies * module.groups
    )


def conv2d_weight_per_sample(module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``(N, *weight.shape)``: each sample's weight gradient in one call, the ``N`` samples
    stacked as groups (input ``(1, N·C_in, H, W)``, output gradient ``(1, N·C_out, H', W')``)."""
    n = a.shape[0]
    a, padding = explicitly_padded(module, a)
    grad = conv2d_weight_grad(
        module, a.reshape(1, -1, *a.shape[2:]), delta.reshape(1, -1, *delta.shape[2:]), padding, n
    )
    return grad.reshape(n, *module.weight.shape)


def conv2d_weight_per_batch(
    module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, rows: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``(Kc, *weight.shape)``, into ``out`` if given: the weight gradient of each mini-batch
    ``rows[k]`` (``rows`` ``(Kc, B)`` into the factors ``a`` ``(U, C_in, H, W)`` and ``delta``
    ``(U, C_out, H', W')`` of all the chunk's samples), :func:`paths.batches_per_call` mini-batches
    stacked as groups per call (input ``(B, m·C_in, H, W)``). Input maps with fewer positions than
    the kernel has taps take :func:`~.folded.conv2d_weight_per_batch_folded`."""
    if paths.folds_feature_maps(module, a.shape[2:]):
        return conv2d_weight_per_batch_folded(module, a, delta, rows, out)
    a, padding = explicitly_padded(module, a)
    kc, b = rows.shape
    result = out if out is not None else a.new_empty((kc, *module.weight.shape))
    step = paths.batches_per_call(module.weight.numel(), a.element_size())
    for first in range(0, kc, step):
        order = rows[first : first + step].T.flatten()  # sample j of every mini-batch, then j + 1
        stacked_a = a.index_select(0, order).reshape(b, -1, *a.shape[2:])
        stacked_delta = delta.index_select(0, order).reshape(b, -1, *delta.shape[2:])
        copies = order.numel() // b
        result[first : first + copies] = conv2d_weight_grad(module, stacked_a, stacked_delta, padding, copies).view(
            copies, *module.weight.shape
        )
    return result
