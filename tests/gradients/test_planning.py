"""The planner: chunk sizes from the engines' memory rules, worked out by hand for tiny models;
the engine "auto" picks; the fall backs to the loop and what each engine computes."""

from __future__ import annotations

import pickle
import warnings

import pytest
import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise, select_parameters
from sgdnoise.gradients.engines import ENGINES, ENTRIES, LOOP, VMAP
from sgdnoise.gradients.planning import Planner

from .cases import brute_force_noise, budget_for, make_case


def _tiny(params=None, method="auto", batch_size=5, num_points=50, num_batches=100) -> Planner:
    """A float32 Linear(3, 4) → ReLU → Linear(4, 2): P = 12 + 4 + 8 + 2 = 26 parameters,
    A = 4 + 4 + 2 = 10 leaf-output floats per sample, s = 4 bytes; K = 100 mini-batches."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    kept = select_parameters({n: p.shape for n, p in model.named_parameters()}, params, seed=0)
    return Planner(
        model,
        torch.randn(1, 3),
        kept,
        batch_size=batch_size,
        num_batches=num_batches,
        num_points=num_points,
        method=method,
    )


def test_loop_and_vmap_bytes_by_hand():
    planner = _tiny(method="loop")
    # loop: 4 bytes × (Kc·3·26 gradient floats + 2·B·A = 2·5·10 activation floats)
    assert planner.chunk_bytes(LOOP, 1) == 4 * (78 + 100) == 712
    assert planner.chunk_bytes(LOOP, 2) == 4 * (156 + 100) == 1024
    assert planner.chunk_bytes(LOOP, 2, micro_batch=2) == 4 * (156 + 40) == 784
    # vmap: 4 bytes × Kc·(3·26 + 12·B·A = 600)
    assert planner.chunk_bytes(VMAP, 3) == 4 * 3 * 678 == 8136
    assert planner.plan(1024).chunk_size == 2
    assert planner.plan(1023).chunk_size == 1
    assert planner.plan(10**9).chunk_size == 100  # at most K
    assert _tiny(method="vmap").plan(8136).chunk_size == 3


def test_entries_bytes_by_hand():
    """1.25 × 4 bytes × (U·(3A + G) + U·J + Kc·(B·L + S − S_in_place) + W), U = 50·(1 − 0.9^Kc) the
    expected distinct points of Kc mini-batches of 5 out of 50."""
    # every entry (auto), all kept whole and written in place (S = S_in_place = 26); biases are
    # per-sample products (G = 4, the widest), both weights summed per mini-batch from their
    # modules' factors (J = (3 + 4) + (4 + 2) = 13, L = 7); no per-sample weight pieces (W = 0):
    # 5·(47·U + 35·Kc)
    everything = _tiny()
    assert everything.chunk_bytes(ENTRIES, 1) == 5 * (47 * 5 + 35) == 1350
    assert everything.chunk_bytes(ENTRIES, 2) == 2583  # U = 9.5: 5·(446.5 + 70) = 2582.5, rounded up
    assert everything.chunk_bytes(ENTRIES, 3) == 3710  # U = 13.55: 5·(636.85 + 105) = 3709.25
    assert everything.plan(2583).chunk_size == 2 and everything.plan(2583).engine is ENTRIES
    # method="entries" on the last layer only: S = 10, all written in place; G = 2, J = L = 6:
    # 5·(38·U + 30·Kc)
    last = _tiny(params="2.*", method="entries")
    assert last.chunk_bytes(ENTRIES, 1) == 5 * (38 * 5 + 30) == 1100
    assert last.chunk_bytes(ENTRIES, 2) == 2105  # 5·(361 + 60)
    # one sampled entry per tensor: products only (G = 1), S = S_in_place = 4: 5·31·U
    sampled = _tiny(params=1, method="entries")
    assert sampled.chunk_bytes(ENTRIES, 1) == 5 * 31 * 5 == 775
    # kept entries computed whole but kept sampled (auto) are not written in place: S − S_in_place = 26
    assert _tiny(params=1).chunk_bytes(ENTRIES, 1) == 5 * (47 * 5 + 35 + 26) == 1480


def test_conv_weight_piece_by_hand():
    """A conv with 16 output positions takes per-sample weight gradients: a piece of them and the
    convolution's scratch, 2 × 4 MiB / 4 bytes = 2,097,152 floats (W)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(32, 3))
    kept = select_parameters({n: p.shape for n, p in model.named_parameters()})
    planner = Planner(model, torch.randn(1, 1, 4, 4), kept, batch_size=5, num_batches=100, num_points=50)
    # A = 32 + 32 + 3 = 67; G = 3 (the Linear bias); J = L = 32 + 3 = 35; S = S_in_place = 119:
    # 5·(U·(201 + 3) + U·35 + Kc·5·35 + 2,097,152), U = 5 at Kc = 1
    assert planner.chunk_bytes(ENTRIES, 1) == 5 * (5 * 239 + 175 + 2_097_152) == 10_492_610


def test_a_plan_says_why_and_how_it_changes():
    planner = _tiny(method="vmap")
    plan = planner.plan(10**6)
    assert plan.engine is VMAP and not plan.fell_back and plan.reason == "method='vmap'"
    assert plan.to_dict() == {
        "engine": "vmap",
        "chunk_size": 100,
        "micro_batch": 5,
        "full_pass": 50,
        "reason": plan.reason,
    }
    squeezed = planner.plan(4 * (78 + 600) - 1)  # one vmap mini-batch needs 2712 bytes
    assert squeezed.engine is LOOP and squeezed.fell_back and "using the loop engine" in squeezed.reason
    after = plan.falling_back("no batching rule")
    assert after.engine is LOOP and after.chunk_size == plan.chunk_size and after.fell_back
    assert after.reason == "the vmap engine cannot take this model (no batching rule); falling back to the loop"
    resumed = plan.resumed({"engine": "loop", "chunk_size": 7, "micro_batch": 2, "reason": "earlier"})
    assert (resumed.engine, resumed.chunk_size, resumed.micro_batch, resumed.reason) == (LOOP, 7, 2, "earlier")
    with pytest.raises(InvalidInputError, match="method must be one of"):
        _tiny(method="fast")
    with pytest.raises(InvalidInputError, match=r"memory_budget \(bytes\) must be an int ≥ 1"):
        planner.plan(0)


def test_only_a_named_entries_engine_computes_the_kept_entries_only():
    named = _tiny(params=1, method="entries")
    assert named.plan(10**6).computes_kept_only and named.computed(ENTRIES) is named.kept
    auto = _tiny(params=1)
    assert auto.plan(10**6).engine is ENTRIES and not auto.plan(10**6).computes_kept_only
    assert auto.computed(ENTRIES) is auto.everything and _tiny(params=1, method="loop").computed(LOOP).total == 26


def test_micro_batch_by_hand():
    planner = _tiny(method="loop", batch_size=8)
    assert planner.plan(4 * (78 + 2 * 8 * 10)).micro_batch == 8  # the mini-batch fits
    assert planner.plan(4 * (78 + 2 * 3 * 10) + 1).micro_batch == 3
    one_sample = 4 * (78 + 2 * 10)
    assert planner.plan(one_sample).micro_batch == 1
    with pytest.raises(InvalidInputError, match="raise memory_budget"):
        planner.plan(one_sample - 1)


def _conv16() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A float32 Conv2d(1, 8, 3, padding=1) → ReLU → Flatten → Linear(2048, 2) on 1×16×16 inputs:
    4 leaf-module calls, A = 2048 + 2048 + 2048 + 2 = 6146 leaf-output floats per sample; 100
    points."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 2))
    gen = torch.Generator().manual_seed(1)
    return model, (torch.randn(100, 1, 16, 16, generator=gen), torch.randint(0, 2, (100,), generator=gen))


def _conv_planner(batch_size: int = 64, num_batches: int = 100) -> Planner:
    model, (x, _) = _conv16()
    kept = select_parameters({n: p.shape for n, p in model.named_parameters()})
    return Planner(model, x[:1], kept, batch_size=batch_size, num_batches=num_batches, num_points=100)


def test_auto_rule():
    mlp, (x_mlp, _) = make_case("mlp")
    cnn, (x_cnn, _) = make_case("cnn")
    transformer, (x_tf, _) = make_case("transformer")
    torch.manual_seed(0)
    big = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 10)).double()
    gib = 1 << 30

    def plan(model, x, num_points=48, method="auto", budget=gib):
        kept = select_parameters({n: p.shape for n, p in model.named_parameters()})
        planner = Planner(model, x[:1], kept, batch_size=8, num_batches=1000, num_points=num_points, method=method)
        return planner.plan(budget)

    assert plan(mlp, x_mlp).engine is ENTRIES  # dense and supported, 48 points drawn 8000 times
    # 123k parameters, over VMAP_MAX_PARAMS: entries against the loop. Points drawn about once, but
    # at B = 8 the loop's cost per module call dominates: 3 calls, A = 610, B_call = 3·16000/610 = 78.7,
    # ρ* = 2.3·8/86.7 = 0.21
    assert plan(big, torch.randn(1, 400, dtype=torch.float64), num_points=10**6).engine is ENTRIES
    assert plan(transformer, x_tf).engine is VMAP  # attention: not supported by entries
    assert "MultiheadAttention" in plan(transformer, x_tf).reason
    assert plan(cnn, x_cnn).engine is ENTRIES  # convolutions, points drawn many times per chunk
    assert plan(cnn, x_cnn, num_points=10**6, method="entries").engine is ENTRIES


@pytest.mark.parametrize(
    ("make", "rival", "needed"),
    [
        (lambda k: _tiny(batch_size=64, num_points=100, num_batches=k), VMAP, 1.65),  # 3.3·64/(64 + 64)
        (lambda k: _conv_planner(num_batches=k), LOOP, 1.978),  # 2.3·64/(64 + 4·16000/6146)
    ],
)
def test_auto_needs_more_reuse_at_larger_batches(make, rival, needed):
    """B = 64 out of D = 100 points, K = 2 or 3 mini-batches in one chunk: U = 100·(1 − 0.36^K)
    distinct points on average, drawn ρ = 64·K/U times: 1.471 at K = 2 (U = 87.04) and 2.014 at
    K = 3 (U = 95.33), on either side of the ρ* that beats the rival at B = 64."""
    assert make(2).reuse_needed(rival) == pytest.approx(needed, abs=1e-3)
    two, three = make(2).plan(1 << 30), make(3).plan(1 << 30)
    assert two.engine is rival and "draw each distinct point 1.47 times, under" in two.reason
    assert three.engine is ENTRIES and "draw each distinct point 2.01 times, at least" in three.reason


def test_auto_takes_entries_without_reuse_at_small_batches():
    """At B = 5 (dense, ρ* = 3.3·5/69 = 0.24) and B = 4 (conv, ρ* = 2.3·4/14.41 = 0.64) a chunk of
    one mini-batch, each point drawn once, still runs entries."""
    planner = _tiny()
    assert planner.plan(planner.chunk_bytes(ENTRIES, 1)).engine is ENTRIES
    planner = _conv_planner(batch_size=4)
    assert planner.probe.module_calls == 4 and planner.probe.activations_per_sample == 6146
    assert planner.plan(planner.chunk_bytes(ENTRIES, 1)).engine is ENTRIES


def test_auto_in_collect_noise(loss_fn):
    model, data = make_case("mlp")
    assert collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0).method == "entries"
    model, data = _conv16()  # B = 64 of 100 points: ρ = 1.47 over 2 mini-batches, 2.01 over 3 (ρ* = 1.978)
    assert collect_noise(model, loss_fn, data, batch_size=64, num_batches=2, seed=0).method == "loop"
    assert collect_noise(model, loss_fn, data, batch_size=64, num_batches=3, seed=0).method == "entries"


@pytest.mark.parametrize("params, method", [(None, "auto"), ("fc1.*", "auto"), (3, "auto"), (3, "entries")])
def test_gradients_written_into_the_kept_noise_leave_the_budget(params, method, loss_fn):
    """The entries rule leaves out the kept entries the engine writes in place: tensors kept
    whole, or every kept entry when it computes just those; and the noise stays exact."""
    model, data = make_case("mlp")
    kept = select_parameters({n: p.shape for n, p in model.named_parameters()}, params, seed=0)
    planner = Planner(model, data[0][:1], kept, batch_size=8, num_batches=6, num_points=48, method=method)
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    whole = {None: sum(sizes.values()), "fc1.*": sizes["fc1.weight"] + sizes["fc1.bias"], 3: 0}[params]
    assert planner.workload(ENTRIES).in_place == (3 * len(sizes) if method == "entries" else whole)
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
    assert result.method == "entries" and result.chunk_size == 2
    _, ref = brute_force_noise(model, loss_fn, data, result.batch_indices)
    for name in result.noise:
        torch.testing.assert_close(result.noise[name], result.selection.take(name, ref[name]), atol=1e-10, rtol=0)


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
    assert result.method == "loop" and result.chunk_size == 1 and result.plan.micro_batch == 3
    assert (method == "vmap") == any("using the loop engine" in str(w.message) for w in caught)
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    for name in noise:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


def test_entries_falls_back_to_loop_with_warning(loss_fn):
    """Attention in-projection weights are not supported by the entries engine."""
    model, data = make_case("transformer")
    with pytest.warns(UserWarning, match="entries engine cannot take"):
        result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=3, seed=5, method="entries")
    assert result.method == "loop"


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


def test_an_engine_pickles_as_its_one_instance():
    for engine in ENGINES:
        assert pickle.loads(pickle.dumps(engine)) is engine
        assert "0x" not in repr(engine)  # a content hash of a plan is the same in every process
