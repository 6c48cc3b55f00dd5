"""The entries engine: each distinct sample once, factors joined over pieces, checked against autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.gradients import collect_noise, select_parameters
from sgdnoise.gradients.engines import entry_gradients, loop_gradients
from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.engines.entries.conv import conv2d_weight_grad, conv2d_weight_per_batch

from .cases import MLP, brute_force_noise, budget_for, make_case


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


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    "conv, spatial, folded",
    [
        (dict(kernel_size=3, padding=1), (2, 2), True),  # a ResNet's last stage on 8×8 images
        (dict(kernel_size=3, padding=1), (1, 1), True),  # the centre tap only
        (dict(kernel_size=3, padding=1, stride=2), (2, 2), True),
        (dict(kernel_size=3, padding=2, dilation=2), (2, 3), True),
        (dict(kernel_size=4, padding="same"), (3, 3), True),  # asymmetric padding: one more row/column after
        (dict(kernel_size=(3, 5), padding=(1, 2)), (1, 3), True),
        (dict(kernel_size=3, padding=1), (3, 3), False),  # as many positions as taps: the grouped convolution
        (dict(kernel_size=3, padding=1, groups=2), (2, 2), False),
    ],
)
@pytest.mark.parametrize("piece_bytes", [4 << 20, 1])
def test_conv_weight_per_mini_batch_equals_autograd(conv, spatial, folded, piece_bytes, monkeypatch):
    """Whole conv weights per mini-batch (3 mini-batches per call, or 1 when the scratch passes
    the piece; 7 in all, samples repeated) from the folded outer products of small maps, or the
    grouped convolution, against one ``autograd.grad`` per mini-batch of the summed per-sample
    objective ``Σ_n ⟨δ_n, conv(a_n)⟩``."""
    monkeypatch.setattr(paths, "GROUPED_BATCHES", 3)
    monkeypatch.setattr(paths, "WEIGHT_PIECE_BYTES", piece_bytes)
    assert paths.batches_per_call(100, 8) == (3 if piece_bytes > 800 else 1)
    torch.manual_seed(0)
    module = nn.Conv2d(4, 6, **conv).double()
    assert paths.folds_feature_maps(module, torch.Size(spatial)) is folded
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(10, 4, *spatial, generator=gen, dtype=torch.float64)
    delta = torch.randn_like(module(a), dtype=torch.float64)
    rows = torch.randint(0, 10, (7, 5), generator=gen)
    got = conv2d_weight_per_batch(module, a, delta, rows)
    for k in range(7):
        (want,) = torch.autograd.grad((module(a[rows[k]]) * delta[rows[k]]).sum(), module.weight)
        torch.testing.assert_close(got[k], want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "conv, spatial, batch",
    [
        (dict(kernel_size=3, padding=1), (6, 6), 1),
        (dict(kernel_size=3, stride=2, dilation=2, padding=2, groups=2), (7, 7), 1),
        (dict(kernel_size=3, padding=1), (2, 2), 5),  # per mini-batch: samples of several mini-batches as groups
    ],
)
def test_stacked_weight_gradient_is_autograds_to_the_bit(conv, spatial, batch, dtype):
    """The weight half of the backward with 3 copies of the weight stacked as groups equals, bit for
    bit, autograd's weight gradient of the convolution with those stacked weights."""
    torch.manual_seed(0)
    module = nn.Conv2d(4, 6, **conv).to(dtype)
    copies = 3
    stacked = module.weight.detach().repeat(copies, 1, 1, 1).requires_grad_()
    a = torch.randn(batch, copies * 4, *spatial, dtype=dtype)
    out = nn.functional.conv2d(a, stacked, None, module.stride, module.padding, module.dilation, copies * module.groups)
    delta = torch.randn_like(out)
    (want,) = torch.autograd.grad(out, stacked, delta)
    got = conv2d_weight_grad(module, a, delta, module.padding, copies)
    assert torch.equal(got, want)


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


def test_loop_engine_writes_into_out(loss_fn):
    model, (x, y) = make_case("cnn", num_points=12)
    model.eval()
    rows = torch.randint(0, 12, (3, 4), generator=torch.Generator().manual_seed(0))
    ref, _ = loop_gradients(model, loss_fn, x[rows], y[rows])
    out = {n: torch.full_like(g, torch.nan) for n, g in ref.items()}
    grads, _ = loop_gradients(model, loss_fn, x[rows], y[rows], out=out)
    for name in ref:
        assert grads[name] is out[name]
        torch.testing.assert_close(out[name], ref[name], atol=0, rtol=0)


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


def test_loss_that_is_not_a_mean_of_per_sample_losses_falls_back():
    """Class-weighted cross-entropy divides by the mini-batch's total weight, not by B: the
    check on the first mini-batch sends the run to the loop, which is exact."""
    model, data = make_case("mlp")
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 5.0, 0.2], dtype=torch.float64))
    _assert_exact_loop_after_warning(model, loss_fn, data, "falling back to the loop", method="entries")


def test_model_that_mixes_samples_falls_back(loss_fn):
    """Centring by the batch mean couples the samples of a mini-batch: auto must not use the
    per-sample factors silently."""

    class Centred(MLP):
        def forward(self, x):
            return super().forward(x - x.mean(0))

    torch.manual_seed(0)
    model = Centred().double()
    _, data = make_case("mlp")
    _assert_exact_loop_after_warning(model, loss_fn, data, "does the model mix samples")
    # sampled entries under an explicit method="entries": the engine had been writing them in
    # their (K, n) layout, and the loop it falls back to computes whole tensors
    _assert_exact_loop_after_warning(model, loss_fn, data, "does the model mix samples", params=3, method="entries")


def test_auto_keeps_a_sample_and_statistics_of_every_entry(loss_fn):
    """``auto`` on a dense net runs the entries engine on every entry: the kept sample is the
    selection, the running statistics cover all entries (explicit ``entries`` covers the selection only)."""
    model, data = make_case("mlp")
    auto = collect_noise(model, loss_fn, data, batch_size=8, num_batches=5, seed=3, params=2)
    explicit = collect_noise(model, loss_fn, data, batch_size=8, num_batches=5, seed=3, params=2, method="entries")
    assert auto.method == explicit.method == "entries"
    assert auto.stats.scope == "all" and explicit.stats.scope == "selected"
    for name in auto.noise:
        torch.testing.assert_close(auto.noise[name], explicit.noise[name], atol=1e-12, rtol=0)


def test_parameter_used_outside_its_module_falls_back(loss_fn):
    """A weight also used functionally (weight tying by hand) escapes the module hooks: the
    gradient check on the first mini-batch catches it."""

    class Tied(MLP):
        def forward(self, x):
            return super().forward(x) + nn.functional.linear(x, self.fc1.weight)[:, :3]

    torch.manual_seed(0)
    model = Tied().double()
    _, data = make_case("mlp")
    _assert_exact_loop_after_warning(model, loss_fn, data, "fc1.weight differs from autograd")


def _assert_exact_loop_after_warning(model, loss_fn, data, match: str, **kwargs) -> None:
    """The collection warns (``match``), falls back to the loop engine and equals brute force."""
    with pytest.warns(UserWarning, match=match):
        result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=4, seed=0, **kwargs)
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == "loop"
    for name in result.noise:
        torch.testing.assert_close(result.noise[name], result.selection.take(name, noise[name]), atol=1e-10, rtol=0)


@pytest.mark.parametrize("why", ["unsupported module", "memory budget"])
def test_explicit_entries_on_a_subset_falls_back_to_the_loop_on_every_entry(why, loss_fn):
    """When ``method="entries"`` with sampled entries cannot run, the loop computes every entry:
    the kept sample is still the selection, the statistics cover all entries."""
    model, data = make_case("transformer" if why == "unsupported module" else "cnn")
    budget = 1 << 30 if why == "unsupported module" else budget_for(model, data, 8, 1, "loop")
    with pytest.warns(
        UserWarning, match="entries engine cannot take" if why == "unsupported module" else "using the loop engine"
    ):
        result = collect_noise(
            model, loss_fn, data, batch_size=8, num_batches=3, seed=5, method="entries", params=2, memory_budget=budget
        )
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == "loop" and result.stats.scope == "all"
    for name, idx in result.selection.entries.items():
        torch.testing.assert_close(result.noise[name], noise[name].flatten(1)[:, idx], atol=1e-10, rtol=0)
