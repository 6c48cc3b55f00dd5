"""A small convolutional network for 8×8 … 32×32 images."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from sgdnoise.errors import ConfigError
from sgdnoise.models.activations import make_activation
from sgdnoise.plumbing.checks import positive_int


class SmallCNN(nn.Sequential):
    """``[Conv3×3(pad 1) → (BatchNorm) → act → MaxPool2] per entry of channels → Flatten → Linear``.

    Input ``(N, C, H, W)``; each block halves the spatial size (floor) while it is ≥ 2, so an
    8×8 digit becomes 2×2 after two blocks. With ``batch_norm=True`` the convolutions have no
    bias (BatchNorm's shift replaces it).
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        channels: Sequence[int] = (16, 32),
        batch_norm: bool = False,
        activation: str = "relu",
    ):
        if len(input_shape) != 3:
            raise ConfigError(f"SmallCNN needs image inputs (C, H, W); got input shape {tuple(input_shape)}")
        if not channels:
            raise ConfigError(f"channels must be a non-empty list of positive widths; got {channels}")
        for i, width in enumerate(channels):
            positive_int(width, f"channels[{i}]", error=ConfigError)
        c_in, h, w = input_shape
        layers: list[nn.Module] = []
        for c_out in channels:
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(make_activation(activation))
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c_in = c_out
        layers += [nn.Flatten(), nn.Linear(c_in * h * w, num_outputs)]
        super().__init__(*layers)
