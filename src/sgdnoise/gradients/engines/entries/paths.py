"""Which way each computed tensor's mini-batch gradients take, and in what steps.

- A whole ``weight`` of a Linear or Conv2d module (:data:`WEIGHT_PATH_MODULES`) takes a *weight
  path* (:func:`on_weight_path`); every other computed tensor, and sampled entries, are summed
  from per-sample products of their entries (:mod:`~sgdnoise.gradients.engines.entries.products`).
- A weight path goes *per sample* when the module has ``T ≥ PER_SAMPLE_POSITIONS`` output
  positions (per-sample weight gradients, ``2·T·|W|`` FLOPs per distinct sample, then ``|W|``
  additions per draw), else *per mini-batch* from the factors of all the chunk's samples
  (``2·T·|W|`` FLOPs per draw, at matrix-multiply speed), :func:`summed_per_mini_batch`: when
  ``2T`` is small the per-draw additions cost more than the products.
- Per-sample weight gradients are formed :func:`samples_per_weight_piece` samples at a time;
  per-mini-batch conv weights :func:`batches_per_call` mini-batches per call, Linear weights
  ``GROUPED_BATCHES``; a conv whose input maps have fewer positions than its kernel has taps
  takes the folded outer products (:func:`folds_feature_maps`).

The planner's memory rule reads the same functions, so it sizes what the engine does. Every
module of the engine reads these constants through this module, so a test can change them in
one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from sgdnoise.gradients.selection import ParameterSelection

WEIGHT_PATH_MODULES = (nn.Linear, nn.Conv2d)
PER_SAMPLE_POSITIONS = 16
GROUPED_BATCHES = 16
WEIGHT_PIECE_BYTES = 4 << 20


def weight_path_owners(owner_types: Mapping[str, type[nn.Module]]) -> frozenset[str]:
    """The owners (name → module class) whose whole weight takes a weight path."""
    return frozenset(n for n, t in owner_types.items() if issubclass(t, WEIGHT_PATH_MODULES))


def on_weight_path(selection: ParameterSelection, name: str, owners: frozenset[str]) -> bool:
    """Whether tensor ``name`` takes a weight path: a whole ``weight`` of one of ``owners``
    (:func:`weight_path_owners`)."""
    owner, _, attr = name.rpartition(".")
    return selection.entries[name] is None and attr == "weight" and owner in owners


def summed_per_mini_batch(positions: int) -> bool:
    """Whether a whole weight whose module has ``positions`` output positions ``T`` is summed per
    mini-batch (``T < PER_SAMPLE_POSITIONS``) rather than from per-sample weight gradients."""
    return positions < PER_SAMPLE_POSITIONS


def samples_per_weight_piece(weight: torch.Tensor) -> int:
    """Samples whose per-sample gradients of ``weight`` fill ``WEIGHT_PIECE_BYTES`` (at least one)."""
    return max(1, WEIGHT_PIECE_BYTES // (weight.numel() * weight.element_size()))


def batches_per_call(scratch_floats: int, itemsize: int) -> int:
    """Mini-batches per call of a per-mini-batch conv weight path whose scratch is
    ``scratch_floats`` per mini-batch: ``GROUPED_BATCHES``, fewer when the scratch would pass
    ``WEIGHT_PIECE_BYTES`` (at least one)."""
    return max(1, min(GROUPED_BATCHES, WEIGHT_PIECE_BYTES // (scratch_floats * itemsize)))


def folds_feature_maps(module: nn.Conv2d, spatial: torch.Size) -> bool:
    """Whether a whole weight of ``module`` summed per mini-batch takes the outer products of
    whole feature maps (:mod:`~sgdnoise.gradients.engines.entries.folded`): an ungrouped
    convolution whose input maps (``spatial``) have fewer positions ``Q`` than its kernel has
    taps, so that the products cost ``Q/(kh·kw)`` of the convolution's FLOPs (4/9 on the 2×2 maps
    of a ResNet's last stage on 8×8 images)."""
    return module.groups == 1 and math.prod(spatial) < math.prod(module.kernel_size)
