"""Loss recognition and per-sample losses, against one call of the loss per sample."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.plumbing import LossSpec, default_loss, describe_loss, per_sample_losses


@pytest.mark.parametrize(
    "loss_fn, expected",
    [
        (F.cross_entropy, LossSpec("cross_entropy")),
        (nn.CrossEntropyLoss(), LossSpec("cross_entropy")),
        (nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=3), LossSpec("cross_entropy", 0.1, 3)),
        (F.mse_loss, LossSpec("mse")),
        (nn.MSELoss(), LossSpec("mse")),
        (nn.CrossEntropyLoss(weight=torch.ones(3)), None),
        (nn.CrossEntropyLoss(reduction="sum"), None),
        (nn.MSELoss(reduction="sum"), None),
        (nn.L1Loss(), None),
        (lambda out, y: F.cross_entropy(out, y), None),
    ],
)
def test_describe_loss(loss_fn, expected):
    assert describe_loss(loss_fn) == expected


def _one_by_one(loss_fn, out, y):
    return torch.stack([loss_fn(out[i : i + 1], y[i : i + 1]) for i in range(out.shape[0])])


@pytest.mark.parametrize(
    "loss_fn, make_target",
    [
        (nn.CrossEntropyLoss(label_smoothing=0.2), lambda g: torch.randint(0, 5, (7,), generator=g)),
        (F.cross_entropy, lambda g: torch.randint(0, 5, (7,), generator=g)),
        (nn.MSELoss(), lambda g: torch.randn(7, 5, generator=g, dtype=torch.float64)),
        (nn.L1Loss(), lambda g: torch.randn(7, 5, generator=g, dtype=torch.float64)),  # the vmap path
        (nn.CrossEntropyLoss(ignore_index=1), lambda g: torch.arange(7) % 5),  # ignored label: vmap path, NaN alike
    ],
)
def test_per_sample_losses_equal_one_call_per_sample(loss_fn, make_target):
    g = torch.Generator().manual_seed(0)
    out = torch.randn(7, 5, generator=g, dtype=torch.float64)
    y = make_target(g)
    torch.testing.assert_close(
        per_sample_losses(loss_fn, out, y), _one_by_one(loss_fn, out, y), rtol=1e-12, atol=0, equal_nan=True
    )


def test_per_sample_cross_entropy_over_positions_is_each_samples_mean():
    g = torch.Generator().manual_seed(1)
    out = torch.randn(4, 3, 6, generator=g, dtype=torch.float64)  # (n, classes, tokens)
    y = torch.randint(0, 3, (4, 6), generator=g)
    direct = LossSpec("cross_entropy").per_sample(out, y)
    torch.testing.assert_close(direct, _one_by_one(F.cross_entropy, out, y), rtol=1e-12, atol=0)


def test_direct_path_declines_targets_it_does_not_cover():
    out = torch.randn(4, 3, dtype=torch.float64)
    assert LossSpec("cross_entropy").per_sample(out, torch.randn(4, 3, dtype=torch.float64)) is None
    assert LossSpec("mse").per_sample(out, torch.randn(4, 1, dtype=torch.float64)) is None


def test_plain_cross_entropy_needs_class_indices_and_no_smoothing():
    labels = torch.tensor([0, 2, 1])
    assert LossSpec("cross_entropy").is_plain_cross_entropy(labels)
    assert not LossSpec("cross_entropy", label_smoothing=0.1).is_plain_cross_entropy(labels)
    assert not LossSpec("cross_entropy").is_plain_cross_entropy(torch.tensor([0, -100, 1]))
    assert not LossSpec("cross_entropy", ignore_index=2).is_plain_cross_entropy(labels)  # label 2 is ignored
    assert LossSpec("cross_entropy", ignore_index=5).is_plain_cross_entropy(labels)
    assert not LossSpec("mse").is_plain_cross_entropy(labels)


def test_default_loss_follows_the_targets():
    assert default_loss(torch.tensor([0, 1])) is F.cross_entropy
    assert default_loss(torch.tensor([0.5, 1.0])) is F.mse_loss
