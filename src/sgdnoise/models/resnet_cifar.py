"""CIFAR ResNets of He et al. (2016, §4.2): ResNet-20/32/44/56/110 = 6n+2 layers.

A 3×3 convolution with 16 filters, then three stages of ``n`` basic blocks with 16, 32 and 64
filters (the 2nd and 3rd stages start with stride 2), global average pooling and a linear
layer. Shortcuts are "option A": identity, and where the shape changes the input is
sub-sampled by 2 and zero-padded in channels, so shortcuts add no parameters. With 10
classes this gives 0.27M (ResNet-20), 0.46M, 0.66M, 0.85M (ResNet-56) and 1.7M (ResNet-110)
parameters, as in the paper's Table 6. Kaiming-normal initialisation of conv/linear weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.errors import ConfigError
from sgdnoise.models.resnet import BasicBlock

CIFAR_DEPTHS = (20, 32, 44, 56, 110)


class PadShortcut(nn.Module):
    """Option-A shortcut: ``x[:, :, ::2, ::2]`` zero-padded from ``c_in`` to ``c_out`` channels."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.pad = (c_out - c_in) // 2, c_out - c_in - (c_out - c_in) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, *self.pad))


def cifar_block(c_in: int, c_out: int, stride: int) -> BasicBlock:
    """A basic block with the option-A shortcut (identity where the shape is kept)."""
    shortcut = PadShortcut(c_in, c_out) if stride != 1 or c_in != c_out else nn.Identity()
    return BasicBlock(c_in, c_out, stride, shortcut)


class CifarResNet(nn.Module):
    """ResNet-``depth`` for ``depth = 6n + 2`` (see module doc); input ``(N, C, H, W)``."""

    def __init__(self, depth: int, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ConfigError(f"a CIFAR ResNet has depth 6n+2 (20, 32, 44, 56, 110, …); got {depth}")
        if len(input_shape) != 3:
            raise ConfigError(f"ResNet-{depth} needs image inputs (C, H, W); got input shape {tuple(input_shape)}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(input_shape[0], 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, c_in = [], 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = [cifar_block(c_in, c_out, stride)] + [cifar_block(c_out, c_out, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(64, num_outputs)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))
