"""ResNet-18/34/50 (He et al. 2016, ImageNet design) adapted to 32×32 inputs.

As commonly used for CIFAR: the 7×7 stride-2 stem and the max-pool are replaced by one 3×3
stride-1 convolution with 64 filters; then four stages (64, 128, 256, 512 filters, strides 1,
2, 2, 2) of basic blocks (18: 2-2-2-2, 34: 3-4-6-3) or bottleneck blocks (50: 3-4-6-3, width
×4), global average pooling and a linear layer. Projection shortcuts (1×1 conv + BatchNorm)
where the shape changes. 10 classes: 11.17M (18), 21.28M (34), 23.52M (50) parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.errors import ConfigError


def _projection(c_in: int, c_out: int, stride: int) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`` with 3×3 convolutions; the shortcut is
    a projection where the shape changes unless one is given (the CIFAR ResNets pass theirs)."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int, shortcut: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _projection(c_in, planes, stride) if shortcut is None else shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int):
        super().__init__()
        c_out = planes * self.expansion
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = _projection(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


RESNET_LAYOUTS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """ResNet-18/34/50 with a 3×3 stem for small images; input ``(N, C, H, W)``."""

    def __init__(self, depth: int, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        if depth not in RESNET_LAYOUTS:
            raise ConfigError(f"ResNet depth must be one of {tuple(RESNET_LAYOUTS)}; got {depth}")
        if len(input_shape) != 3:
            raise ConfigError(f"ResNet-{depth} needs image inputs (C, H, W); got input shape {tuple(input_shape)}")
        block, counts = RESNET_LAYOUTS[depth]
        self.conv1 = nn.Conv2d(input_shape[0], 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        c_in, stages = 64, []
        for planes, count, stride in zip((64, 128, 256, 512), counts, (1, 2, 2, 2)):
            blocks = []
            for s in [stride] + [1] * (count - 1):
                blocks.append(block(c_in, planes, s))
                c_in = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = nn.Linear(c_in, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))
