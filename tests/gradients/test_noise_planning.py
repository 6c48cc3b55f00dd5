"""Chunk sizes follow the documented memory rule; "auto" follows the documented engine rule."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import pytest
import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise
from sgdnoise.gradients.planning import (
    PIECE_BYTES,
    EntryFloats,
    ModelProbe,
    Workload,
    choose_method,
    chunk_bytes,
    chunk_size,
    expected_distinct,
    micro_batch_size,
    probe_model,
    samples_per_piece,
)

from .cases import brute_force_noise, budget_for, make_case


def test_probe_counts_parameters_and_leaf_outputs():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))
    probe = probe_model(model, torch.randn(1, 5), owners={"0"})
    assert probe.num_params == 5 * 7 + 7 + 7 * 2 + 2
    assert probe.activations_per_sample == 7 + 7 + 2  # Linear, ReLU, Linear outputs of one sample
    assert probe.itemsize == 4 and probe.positions == {"0": 1}  # one position: no tokens or pixels


def test_probe_counts_output_positions_per_owner():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    probe = probe_model(model, torch.randn(1, 1, 4, 4), owners={"0", "2"})
    assert probe.positions == {"0": 16, "2": 1}  # 4×4 pixels of the conv output; one for the Linear


def test_chunk_size_rule():
    probe = ModelProbe(num_params=1000, activations_per_sample=50, itemsize=4)
    work = Workload(
        batch_size=8,
        num_batches=100,
        num_points=10_000,
        computed=None,
        entry=EntryFloats(per_sample=24, joined=20, gathered=12, weight_piece=1000),
    )
    per_batch = 4 * (3 * 1000 + 12 * 8 * 50)  # vmap: s·(3P + 12·B·A) per mini-batch
    assert chunk_size(probe, "vmap", work, 10 * per_batch) == 10
    assert chunk_size(probe, "vmap", work, 10 * per_batch - 1) == 9
    assert chunk_size(probe, "vmap", replace(work, num_batches=5), 10 * per_batch) == 5  # at most K
    assert chunk_size(probe, "vmap", work, 1) == 1  # at least one mini-batch
    # loop: one mini-batch's activations at a time, s·(Kc·3P + 2·B·A)
    assert chunk_size(probe, "loop", work, 4 * (7 * 3000 + 2 * 8 * 50)) == 7
    assert chunk_size(probe, "loop", work, 4 * (7 * 3000 + 2 * 4 * 50), micro_batch=4) == 7

    # entries: 1.25·s·(Up·(3A + G) + U·J + Kc·(B·L + S) + W), U expected distinct, Up = min(U, piece)
    def entries_bytes(kc: int, d: int, a: int = 50, piece: float = math.inf, s: int = 1000) -> float:
        distinct = d * (1 - (1 - 8 / d) ** kc)
        return 1.25 * 4 * (min(distinct, piece) * (3 * a + 24) + distinct * 20 + kc * (8 * 12 + s) + 1000)

    assert chunk_size(probe, "entries", work, math.ceil(entries_bytes(3, 10_000))) == 3
    assert chunk_size(probe, "entries", work, math.ceil(entries_bytes(3, 10_000)) - 1) == 2
    # gradients written straight into the kept noise are not counted (S − in_place)
    in_place = replace(work, in_place=600)
    assert chunk_size(probe, "entries", in_place, math.ceil(entries_bytes(7, 10_000, s=400))) == 7
    assert chunk_size(probe, "entries", in_place, math.ceil(entries_bytes(7, 10_000, s=400)) - 1) == 6
    # a small data set: the chunk's samples repeat, so more mini-batches fit the same budget
    small = replace(work, num_points=16)
    assert expected_distinct(16, 8, 40) == pytest.approx(16 * (1 - 0.5**40))
    assert chunk_size(probe, "entries", small, math.ceil(entries_bytes(40, 16))) == 40
    # wide activations: only one piece of samples is held at a time
    wide = replace(probe, activations_per_sample=PIECE_BYTES // (4 * 10))
    assert samples_per_piece(wide) == 10
    budget = math.ceil(entries_bytes(30, 10_000, wide.activations_per_sample, piece=10))
    assert chunk_size(wide, "entries", work, budget) == 30
    assert chunk_size(wide, "entries", work, budget - 1) == 29


def test_auto_rule():
    mlp, _ = make_case("mlp")
    cnn, _ = make_case("cnn")
    transformer, _ = make_case("transformer")
    big = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 10))
    probe = lambda m: ModelProbe(sum(p.numel() for p in m.parameters()), 100, 4)  # noqa: E731
    work = Workload(batch_size=8, num_batches=1000, num_points=48)
    many_points = replace(work, num_points=10**6)
    gib = 1 << 30
    assert choose_method("auto", mlp, probe(mlp), work, gib) == "entries"  # dense and supported
    assert choose_method("auto", big, probe(big), many_points, gib) == "entries"  # any size
    assert choose_method("auto", transformer, probe(transformer), work, gib) == "vmap"  # attention: not supported
    assert choose_method("auto", cnn, probe(cnn), work, gib) == "entries"  # convolutions, samples reused
    assert choose_method("auto", cnn, probe(cnn), many_points, gib) == "loop"  # convolutions, no reuse
    assert choose_method("entries", cnn, probe(cnn), many_points, gib) == "entries"
    # reuse needs a chunk of at least REUSE_FOR_CONV·U draws: 48 points of B = 8 need ~20 mini-batches
    assert choose_method("auto", cnn, probe(cnn), work, chunk_bytes(probe(cnn), "entries", work, 5)) == "loop"


def test_auto_in_collect_noise(loss_fn):
    model, data = make_case("mlp")
    assert collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0).method == "entries"
    model, data = make_case("resnet")  # 48 points
    assert collect_noise(model, loss_fn, data, batch_size=8, num_batches=30, seed=0).method == "entries"  # 240 draws
    assert collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0).method == "loop"  # 16 draws


@pytest.mark.parametrize("params, method", [(None, "auto"), ("fc1.*", "auto"), (3, "auto"), (3, "entries")])
def test_gradients_written_into_the_kept_noise_leave_the_budget(params, method, loss_fn, monkeypatch):
    """``Workload.in_place`` counts the kept entries the engine writes in place: tensors kept
    whole, or every kept entry when the engine computes just those; and the noise stays exact."""
    from sgdnoise.gradients import collect as collect_module

    seen = []
    real = collect_module.chunk_size
    monkeypatch.setattr(
        collect_module, "chunk_size", lambda probe, engine, work, *a: seen.append(work) or real(probe, engine, work, *a)
    )
    model, data = make_case("mlp")
    result = collect_noise(
        model,
        loss_fn,
        data,
        batch_size=8,
        num_batches=6,
        seed=0,
        params=params,
        method=method,
        memory_budget=budget_for(model, data, 8, 2, method, params),
    )
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    expected = {None: sum(sizes.values()), "fc1.*": sizes["fc1.weight"] + sizes["fc1.bias"], 3: 0}[params]
    assert seen[0].in_place == (result.selection.total if method == "entries" else expected)
    assert result.chunk_size == 2  # budget_for counts in_place as collect_noise does
    _, ref = brute_force_noise(model, loss_fn, data, result.batch_indices)
    for name in result.noise:
        torch.testing.assert_close(result.noise[name], result.selection.take(name, ref[name]), atol=1e-10, rtol=0)


def test_micro_batch_rule():
    probe = ModelProbe(num_params=1000, activations_per_sample=50, itemsize=4)
    one_sample = 4 * (3 * 1000 + 2 * 50)  # loop: s·(3P + 2·m·A)
    assert micro_batch_size(probe, 8, 4 * (3 * 1000 + 2 * 8 * 50)) == 8  # the mini-batch fits
    assert micro_batch_size(probe, 8, 4 * (3 * 1000 + 2 * 3 * 50) + 1) == 3
    assert micro_batch_size(probe, 8, one_sample) == 1
    with pytest.raises(InvalidInputError, match="raise memory_budget"):
        micro_batch_size(probe, 8, one_sample - 1)


@pytest.mark.parametrize(("kind", "method"), [("resnet", "auto"), ("transformer", "vmap")])
def test_mini_batch_above_budget_is_split_exactly(kind, method, loss_fn):
    """A budget of three samples: micro-batches of 3, 3, 2 through the loop engine, and the noise
    is still the brute-force mini-batch noise (float64, so rounding stays far below 1e-10)."""
    model, data = make_case(kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = collect_noise(
            model,
            loss_fn,
            data,
            batch_size=8,
            num_batches=4,
            seed=2,
            method=method,
            memory_budget=budget_for(model, data, 3, 1, "loop"),
        )
    assert result.method == "loop" and result.chunk_size == 1
    assert (method == "vmap") == any("using the loop engine" in str(w.message) for w in caught)
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    for name in noise:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


def test_entry_floats_of_each_kind_of_tensor():
    """G: selected entries × positions (or a 1-D tensor's size); J and L: the input + output floats
    of a whole weight with few positions (summed per mini-batch); W: twice a piece of per-sample
    gradients of a whole weight with many positions."""
    from sgdnoise.gradients import select_parameters
    from sgdnoise.gradients.entries import PER_SAMPLE_POSITIONS, WEIGHT_PIECE_BYTES
    from sgdnoise.gradients.planning import entry_floats

    assert PER_SAMPLE_POSITIONS == 16  # the 4×4 conv below is per sample, the 3×3 one per mini-batch
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 2), nn.Flatten(), nn.Linear(2 * 3 * 3, 3))
    probe = probe_model(model, torch.randn(1, 1, 4, 4), owners={"0", "1", "3"})
    assert probe.positions == {"0": 16, "1": 9, "3": 1}
    assert probe.factors == {"0": 16 + 32, "1": 32 + 18, "3": 18 + 3}  # input + output floats
    shapes = {n: p.shape for n, p in model.named_parameters()}
    whole = entry_floats(select_parameters(shapes), probe)
    assert whole == EntryFloats(per_sample=3, joined=50 + 21, gathered=50, weight_piece=2 * WEIGHT_PIECE_BYTES // 4)
    sampled = entry_floats(select_parameters(shapes, 2, seed=0), probe)
    assert sampled == EntryFloats(per_sample=2 * 16, joined=0, gathered=0, weight_piece=0)  # 2 entries × 4×4 pixels
    # a whole 2-D weight outside Linear/Conv2d (a LayerNorm over two axes) is a per-sample product, as in the engine
    norm = nn.Sequential(nn.LayerNorm((3, 4)), nn.Flatten(), nn.Linear(12, 2))
    norm_probe = probe_model(norm, torch.randn(1, 3, 4), owners={"0", "2"})
    assert norm_probe.weight_paths == {"2"}
    norm_shapes = {n: p.shape for n, p in norm.named_parameters()}
    assert entry_floats(select_parameters(norm_shapes), norm_probe) == EntryFloats(
        per_sample=12, joined=14, gathered=14
    )
    # a wide conv summed per mini-batch: its scratch for one mini-batch, (T + 1)·|W|, passes a piece
    wide = nn.Conv2d(256, 256, 3, padding=1, bias=False)
    wide_probe = probe_model(wide, torch.randn(1, 256, 2, 2), owners={""})
    assert (
        entry_floats(select_parameters({"weight": wide.weight.shape}), wide_probe).weight_piece == 2 * 5 * 256 * 256 * 9
    )
