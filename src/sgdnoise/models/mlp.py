"""Fully connected networks: ``depth`` hidden layers of ``width`` units."""

from __future__ import annotations

import itertools
import math

from torch import nn

from sgdnoise.errors import ConfigError
from sgdnoise.models.activations import make_activation
from sgdnoise.plumbing.checks import positive_int


class MLP(nn.Sequential):
    """``Flatten → [Linear(·, width) → act] × depth → Linear(·, num_outputs)``.

    Inputs of any shape ``(N, *input_shape)`` are flattened to ``(N, prod(input_shape))``;
    ``depth=0`` is a linear (softmax-regression) model. Default PyTorch initialisation.
    Parameters: ``Σ_l (n_{l−1} + 1)·n_l`` over the layer widths ``n_0 = prod(input_shape), width, …, num_outputs``.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        depth: int = 2,
        width: int = 128,
        activation: str = "relu",
        bias: bool = True,
    ):
        positive_int(depth, "MLP depth", minimum=0, error=ConfigError)
        positive_int(width, "MLP width", error=ConfigError)
        positive_int(num_outputs, "MLP num_outputs", error=ConfigError)
        widths = [math.prod(input_shape)] + [width] * depth
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in itertools.pairwise(widths):
            layers += [nn.Linear(n_in, n_out, bias=bias), make_activation(activation)]
        layers.append(nn.Linear(widths[-1], num_outputs, bias=bias))
        super().__init__(*layers)
