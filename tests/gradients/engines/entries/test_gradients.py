"""The entries engine's chunk: each distinct sample once, factors joined over pieces, both weight
paths, checked against one autograd.grad per mini-batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.gradients import collect_noise, select_parameters
from sgdnoise.gradients.engines import entry_gradients, loop_gradients
from sgdnoise.gradients.engines.entries import paths

from ...cases import brute_force_noise, make_case


@pytest.mark.parametrize("kind", ["mlp", "cnn", "resnet"])
def test_repeated_samples_and_pieces_equal_the_loop(kind, loss_fn):
    """Rows that repeat samples across and within mini-batches (drawn with replacement), the
    distinct samples in pieces of 5: every whole tensor equals one autograd.grad per mini-batch."""
    model, (x, y) = make_case(kind, num_points=12)
    model.eval()
    rows = torch.randint(0, 12, (7, 6), generator=torch.Generator().manual_seed(0))
    assert any(len(set(r.tolist())) < 6 for r in rows)  # some mini-batch holds a sample twice
    selection = select_parameters({n: p.shape for n, p in model.named_parameters()})
    ref, ref_losses = loop_gradients(model, loss_fn, x[rows], y[rows])
    for piece in (5, 100):
        grads, losses = entry_gradients(model, loss_fn, x, y, rows, selection, piece)
        torch.testing.assert_close(losses, ref_losses, atol=1e-12, rtol=0)
        for name in ref:
            torch.testing.assert_close(grads[name], ref[name], atol=1e-10, rtol=0)


class OddConvs(nn.Module):
    """Stride, dilation and groups; an even kernel with asymmetric "same" padding; a conv called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.grouped = nn.Conv2d(2, 4, 3, stride=2, dilation=2, padding=2, groups=2)
        self.same = nn.Conv2d(4, 4, 2, padding="same", bias=False)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.same(torch.tanh(self.same(self.grouped(x)))).mean((2, 3)))


class TokenMLP(nn.Module):
    """Linear layers over 5 tokens (``T = 5`` positions per sample) and a LayerNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.norm, self.head = nn.Linear(4, 6), nn.LayerNorm(6), nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(torch.tanh(self.embed(x))).mean(1))


def _weight_case(kind: str) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    if kind in ("cnn", "resnet"):
        return make_case(kind, num_points=12)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model, shape = (OddConvs(), (2, 7, 7)) if kind == "odd_conv" else (TokenMLP(), (5, 4))
    return model.double(), (
        torch.randn(12, *shape, generator=gen, dtype=torch.float64),
        torch.randint(0, 3, (12,), generator=gen),
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("way", ["per sample", "per mini-batch"])
@pytest.mark.parametrize("reuse", ["once", "repeated"])
@pytest.mark.parametrize("kind", ["cnn", "resnet", "odd_conv", "tokens"])
def test_both_ways_to_whole_weights_equal_the_loop(kind, reuse, way, loss_fn, monkeypatch):
    """Whole conv / token-Linear weights from per-sample gradients (in pieces of 5 and in one
    piece, the forward in pieces of 5 and in one) or per mini-batch from factors joined over the
    pieces (convs 3 mini-batches per call), each sample drawn once or many times."""
    monkeypatch.setattr(paths, "PER_SAMPLE_POSITIONS", 1 if way == "per sample" else 10**9)
    monkeypatch.setattr(paths, "GROUPED_BATCHES", 3)
    model, (x, y) = _weight_case(kind)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    rows = (
        torch.randperm(12, generator=gen).reshape(2, 6)
        if reuse == "once"
        else torch.randint(0, 12, (7, 6), generator=gen)
    )
    selection = select_parameters({n: p.shape for n, p in model.named_parameters()})
    ref, _ = loop_gradients(model, loss_fn, x[rows], y[rows])
    for piece, weight_piece in ((5, 64), (100, 5)):
        grads, _ = entry_gradients(model, loss_fn, x, y, rows, selection, piece, weight_piece)
        for name in ref:
            torch.testing.assert_close(grads[name], ref[name], atol=1e-10, rtol=0)
        _assert_written_into_out(model, loss_fn, x, y, rows, selection, ref, piece=piece, weight_piece=weight_piece)


def _assert_written_into_out(model, loss_fn, x, y, rows, selection, ref, **kwargs) -> None:
    """With ``out=`` (rows 1… of NaN-filled buffers, as a slice of kept noise is), every gradient
    lands in its given tensor, whole, and the rows around it are untouched."""
    buffers = {n: torch.full((rows.shape[0] + 2, *g.shape[1:]), torch.nan, dtype=g.dtype) for n, g in ref.items()}
    out = {n: b[1:-1] for n, b in buffers.items()}
    grads, _ = entry_gradients(model, loss_fn, x, y, rows, selection, out=out, **kwargs)
    for name in ref:
        assert grads[name].data_ptr() == out[name].data_ptr()
        torch.testing.assert_close(out[name], ref[name], atol=1e-10, rtol=0)
        assert buffers[name][[0, -1]].isnan().all()


class _CountBackward(torch.autograd.Function):
    """Identity that counts the backward passes through it."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        _CountBackward.calls += 1
        return g


class _Counted(nn.Module):
    def forward(self, x):
        return _CountBackward.apply(x)


def test_backward_stops_at_the_first_selected_module(loss_fn):
    """No gradient of the input, nor of anything before the first module with a selected entry."""
    model = nn.Sequential(_Counted(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x = torch.randn(8, 6, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 3, (8,))
    rows = torch.arange(8).reshape(2, 4)
    selection = select_parameters({n: p.shape for n, p in model.named_parameters()})
    _CountBackward.calls = 0
    grads, _ = entry_gradients(model, loss_fn, x, y, rows, selection)
    assert _CountBackward.calls == 0 and x.grad is None
    assert all(p.grad is None for p in model.parameters())
    ref, _ = loop_gradients(model, loss_fn, x.detach()[rows], y[rows])
    for name in ref:
        torch.testing.assert_close(grads[name], ref[name], atol=1e-12, rtol=0)


class _TokenClassifier(nn.Module):
    """Token ids → a frozen embedding → Linear over the tokens (an integer input)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(11, 4).requires_grad_(False)
        self.mix, self.head = nn.Linear(4, 6), nn.Linear(6, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.mix(self.embed(ids))).mean(1))


def test_integer_inputs(loss_fn):
    torch.manual_seed(0)
    model = _TokenClassifier().double()
    gen = torch.Generator().manual_seed(1)
    ids, y = torch.randint(0, 11, (10, 5), generator=gen), torch.randint(0, 3, (10,), generator=gen)
    rows = torch.randint(0, 10, (4, 3), generator=gen)
    selection = select_parameters({n: p.shape for n, p in model.named_parameters() if p.requires_grad})
    grads, _ = entry_gradients(model, loss_fn, ids, y, rows, selection)
    ref, _ = loop_gradients(model, loss_fn, ids[rows], y[rows])
    for name in ref:
        torch.testing.assert_close(grads[name], ref[name], atol=1e-12, rtol=0)


def test_collection_with_replacement_on_a_tiny_data_set(loss_fn):
    """K·B = 80 draws of 10 points: each point is in many mini-batches."""
    model, data = make_case("resnet", num_points=10)
    result = collect_noise(
        model, loss_fn, data, batch_size=8, num_batches=10, seed=1, method="entries", replacement=True
    )
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == "entries"
    for name in noise:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_asymmetric_same_padding(loss_fn):
    """An even kernel with padding="same" pads one more row/column on one side."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 2, padding="same"), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 3)).double()
    gen = torch.Generator().manual_seed(1)
    data = (torch.randn(20, 2, 5, 5, generator=gen, dtype=torch.float64), torch.randint(0, 3, (20,), generator=gen))
    result = collect_noise(model, loss_fn, data, batch_size=4, num_batches=6, seed=2, method="entries")
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    for name in noise:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)
