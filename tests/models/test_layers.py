"""Layers against hand-written references."""

import torch
import torch.nn.functional as F

from sgdnoise.models import MLP, SmallCNN
from sgdnoise.models.resnet_cifar import PadShortcut


def test_mlp_equals_explicit_matrix_products():
    torch.manual_seed(0)
    model = MLP((2, 3), 4, depth=2, width=5, activation="tanh")
    x = torch.randn(6, 2, 3)
    lin = [m for m in model if isinstance(m, torch.nn.Linear)]
    h = x.reshape(6, 6)
    for layer in lin[:-1]:
        h = torch.tanh(h @ layer.weight.T + layer.bias)
    torch.testing.assert_close(model(x), h @ lin[-1].weight.T + lin[-1].bias)


def test_pad_shortcut_subsamples_and_zero_pads_channels():
    x = torch.randn(2, 16, 8, 8)
    out = PadShortcut(16, 32)(x)
    assert out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, 8:24], x[:, :, ::2, ::2])
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0


def test_small_cnn_equals_functional_reference():
    torch.manual_seed(1)
    model = SmallCNN((1, 8, 8), 3, channels=(2, 4))
    conv1, conv2, linear = model[0], model[3], model[7]
    x = torch.randn(5, 1, 8, 8)
    h = F.max_pool2d(F.relu(F.conv2d(x, conv1.weight, conv1.bias, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, conv2.weight, conv2.bias, padding=1)), 2)
    torch.testing.assert_close(model(x), F.linear(h.flatten(1), linear.weight, linear.bias))
