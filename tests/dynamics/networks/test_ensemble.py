"""sgd_ensemble against the seed-by-seed loop a user would write (``reference.sgd_loop``). Exact equality."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import init_seed, sgd_ensemble
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.models import MLP

from .reference import sgd_loop

SEEDS = (3, 11, 12, 40, 1000)
LR, BATCH = 0.1, 16


def _data(dtype, n=300):
    x, y = load_dataset("digits").tensors
    return x[:n].to(dtype), y[:n]


def _mlp(dtype):
    torch.manual_seed(0)
    return MLP((1, 8, 8), 10, depth=2, width=24).to(dtype)  # 3 Linear layers with ReLU


def _reset(model, seed):
    twin = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        for m in twin.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return twin


def _loop(model, data, seed, steps, *, random_init=False):
    """Plain SGD on a copy of ``model``; returns final parameters, per-step losses and parameters."""
    start = _reset(model, seed) if random_init else model
    return sgd_loop(start, F.cross_entropy, data, seed, lr=LR, batch_size=BATCH, steps=steps)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("random_init", [False, True])
def test_ensemble_equals_seed_by_seed_loop_exactly(dtype, random_init):
    model, data = _mlp(dtype), _data(dtype)
    steps = 40  # spans the block boundary (block_steps=16) twice
    res = sgd_ensemble(
        model,
        F.cross_entropy,
        data,
        seeds=SEEDS,
        lr=LR,
        batch_size=BATCH,
        steps=steps,
        init="random" if random_init else None,
        record_every=1,
        record_trajectory=True,
        block_steps=16,
    )
    for i, s in enumerate(SEEDS):
        ref, losses, path = _loop(model, data, s, steps, random_init=random_init)
        for name, p in ref.items():
            assert torch.equal(res.params[name][i], p), (s, name)
        # the batch mean is summed in another order under vmap: losses agree to rounding (parameters exactly)
        assert res.losses[:, i] == pytest.approx(losses, rel=8 * torch.finfo(dtype).eps)
        assert torch.equal(res.trajectory[:, i], torch.stack(path))
    assert res.stop_step.tolist() == [steps] * len(SEEDS) and not res.stopped.any()
    assert res.loss_steps.tolist() == list(range(1, steps + 1))


def test_common_start_from_state_dict_and_model_untouched():
    model, data = _mlp(torch.float64), _data(torch.float64)
    start = {k: v + 0.01 for k, v in model.state_dict().items()}
    before = copy.deepcopy(model.state_dict())
    res = sgd_ensemble(model, F.cross_entropy, data, seeds=SEEDS[:2], lr=LR, batch_size=BATCH, steps=5, init=start)
    moved = copy.deepcopy(model)
    moved.load_state_dict(start)
    ref, _, _ = _loop(moved, data, SEEDS[1], 5)
    assert all(torch.equal(res.params[k][1], v) for k, v in ref.items())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert res.losses is None and res.trajectory is None  # nothing that grows with steps unless asked
    # one start per seed; result helpers agree with the stacked parameters
    per_seed = sgd_ensemble(
        model,
        F.cross_entropy,
        data,
        seeds=SEEDS[:2],
        lr=LR,
        batch_size=BATCH,
        steps=5,
        init=[model.state_dict(), start],
    )
    assert all(torch.equal(per_seed.params[k][1], res.params[k][1]) for k in res.params)
    assert torch.equal(per_seed.flat()[1], torch.cat([v.reshape(-1) for v in per_seed.state_dict(1).values()]))
    assert per_seed.to_dict()["stop_step"] == [5, 5]


def test_stopped_seeds_are_frozen_at_their_stop_step():
    model, data = _mlp(torch.float64), _data(torch.float64)
    target = torch.tensor([7, 30, 1, 19, 30])  # two seeds stop in the same step; one never stops (steps=25)
    res = sgd_ensemble(
        model,
        F.cross_entropy,
        data,
        seeds=SEEDS,
        lr=LR,
        batch_size=BATCH,
        steps=25,
        stop=lambda t, params, idx: t >= target[idx],
        record_every=5,
        block_steps=8,
    )
    expected = target.clamp(max=25)
    assert res.stop_step.tolist() == expected.tolist()
    assert res.stopped.tolist() == (target <= 25).tolist()
    for i, s in enumerate(SEEDS):
        ref, losses, _ = _loop(model, data, s, int(expected[i]))
        assert all(torch.equal(res.params[k][i], v) for k, v in ref.items()), s
        for row, t in enumerate(res.loss_steps):  # recorded losses: the loop's while running, NaN after the stop
            assert (
                math.isnan(res.losses[row, i])
                if t > expected[i]
                else res.losses[row, i] == pytest.approx(losses[t - 1], rel=1e-14)
            )


def test_bad_input_is_rejected():
    model, data = _mlp(torch.float64), _data(torch.float64)
    kw = dict(lr=LR, batch_size=BATCH, steps=3)
    with pytest.raises(InvalidInputError, match="distinct"):
        sgd_ensemble(model, F.cross_entropy, data, seeds=[1, 1], **kw)
    with pytest.raises(InvalidInputError, match="larger than the data"):
        sgd_ensemble(model, F.cross_entropy, data, seeds=[1], lr=LR, batch_size=1000, steps=3)
    with pytest.raises(InvalidInputError, match="lr"):
        sgd_ensemble(model, F.cross_entropy, data, seeds=[1], lr=-1.0, batch_size=BATCH, steps=3)
    with pytest.raises(InvalidInputError, match="no entry"):
        sgd_ensemble(model, F.cross_entropy, data, seeds=[1], init={"1.weight": torch.zeros(24, 64)}, **kw)
    with pytest.raises(InvalidInputError, match="one bool per running seed"):
        sgd_ensemble(model, F.cross_entropy, data, seeds=[1, 2], stop=lambda t, p, i: torch.tensor([True]), **kw)
    bad = (data[0].clone(), data[1])
    bad[0][5] = float("nan")
    with pytest.raises(ConvergenceError, match="seed"):
        sgd_ensemble(model, F.cross_entropy, bad, seeds=[1, 2], lr=LR, batch_size=299, steps=3)
