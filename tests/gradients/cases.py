"""Tiny models and a brute-force reference for the noise engine tests (float64 unless stated)."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, d_in: int = 6, width: int = 10, classes: int = 3) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(d_in, width), nn.Linear(width, width), nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(torch.tanh(self.fc2(torch.relu(self.fc1(x)))))


class ConvBN(nn.Module):
    """Conv + BatchNorm + in-place ReLU, a strided/dilated/grouped conv, global pool, linear."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 6, 3, padding=1, stride=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(6, 8, 3, padding="same", dilation=2, groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.bn1(self.conv1(x)))
        h = self.act(self.bn2(self.conv2(h)))
        return self.fc(h.mean((2, 3)))


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class TinyResNet(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.blocks = nn.Sequential(ResidualBlock(4, 4, 1), ResidualBlock(4, 8, 2))
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


class TinyTransformer(nn.Module):
    def __init__(self, d_model: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Linear(4, d_model)
        self.block = nn.TransformerEncoderLayer(d_model, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.embed(x)).mean(1))


def _randomise_bn(model: nn.Module, gen: torch.Generator) -> nn.Module:
    """Non-trivial running statistics, as after training."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen, dtype=torch.float64) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen, dtype=torch.float64) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen, dtype=torch.float64) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=gen, dtype=torch.float64) - 0.5)
    return model


def make_case(kind: str, num_points: int = 48) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A float64 model of ``kind`` and data ``(X, y)`` with 3 classes, fixed seeds."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    shapes = {"mlp": (6,), "cnn": (2, 8, 8), "resnet": (2, 8, 8), "transformer": (5, 4)}
    model = {"mlp": MLP, "cnn": ConvBN, "resnet": TinyResNet, "transformer": TinyTransformer}[kind]().double()
    _randomise_bn(model, gen)
    x = torch.randn(num_points, *shapes[kind], generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (num_points,), generator=gen)
    return model, (x, y)


def brute_force_noise(model: nn.Module, loss_fn, data, batch_indices: torch.Tensor) -> tuple[dict, dict]:
    """Independent reference: full gradient from one pass over all D points, then one
    ``autograd.grad`` per mini-batch; ``noise[k] = ∇U − g_k``. Eval mode."""
    x, y = data
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    was_training = model.training
    model.eval()
    full = torch.autograd.grad(loss_fn(model(x), y), list(params.values()))
    noise = {n: [] for n in params}
    for idx in batch_indices:
        g = torch.autograd.grad(loss_fn(model(x[idx]), y[idx]), list(params.values()))
        for (n, _), f, gk in zip(params.items(), full, g):
            noise[n].append(f - gk)
    model.train(was_training)
    return dict(zip(params, full)), {n: torch.stack(v) for n, v in noise.items()}


def budget_for(
    model: nn.Module,
    data,
    batch_size: int,
    mini_batches: int,
    method: str = "loop",
    params=None,
    num_batches: int = 1000,
) -> int:
    """The memory_budget under which one chunk of ``method`` holds exactly ``mini_batches`` whole
    mini-batches: the planner's own estimate of that chunk (for ``"auto"``, of the first engine
    that ``auto`` picks under its own estimate)."""
    from sgdnoise.gradients import select_parameters
    from sgdnoise.gradients.engines import ENTRIES, LOOP, VMAP
    from sgdnoise.gradients.planning import Planner

    shapes = {n: p.shape for n, p in model.named_parameters() if p.requires_grad}
    kept = select_parameters(shapes, params, seed=0)
    x, _ = data
    planner = Planner(
        model, x[:1], kept, batch_size=batch_size, num_batches=num_batches, num_points=len(x), method=method
    )
    if planner.requested is not None:
        return planner.chunk_bytes(planner.requested, mini_batches)
    for engine in (ENTRIES, VMAP, LOOP):
        budget = planner.chunk_bytes(engine, mini_batches)
        if planner.plan(budget).engine is engine:
            return budget
    raise AssertionError("no engine is chosen under its own budget")


def bits(t: torch.Tensor) -> torch.Tensor:
    """The bit patterns of a float tensor (itself for other dtypes): equal bits, equal numbers,
    NaN and the sign of zero included."""
    if not t.is_floating_point():
        return t
    return t.detach().contiguous().view({8: torch.int64, 4: torch.int32, 2: torch.int16}[t.element_size()])


def assert_same_collection(a, b) -> None:
    """Two :class:`NoiseResult` s hold the same numbers, bit for bit: mini-batches, full gradient,
    kept noise, losses, statistics (streamed or not) and plan."""
    assert a.plan == b.plan and a.selection.to_dict() == b.selection.to_dict()
    assert (a.streamed_stats is None) == (b.streamed_stats is None)
    pairs = [(a.batch_indices, b.batch_indices), (a.losses, b.losses)]
    for key in ("full_grad", "noise"):
        assert getattr(a, key).keys() == getattr(b, key).keys()
        pairs += [(getattr(a, key)[n], getattr(b, key)[n]) for n in getattr(a, key)]
    assert a.stats.count == b.stats.count and a.stats.scope == b.stats.scope
    for key in ("mean", "var", "skew"):
        ours, theirs = getattr(a.stats, key), getattr(b.stats, key)
        assert ours.keys() == theirs.keys()
        pairs += [(ours[n], theirs[n]) for n in ours]
    for x, y in pairs:
        assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(bits(x), bits(y))
