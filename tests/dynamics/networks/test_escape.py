"""Escape protocols on a 3-layer ReLU MLP against a seed-by-seed loop (plain model, torch.optim.SGD,
the criterion checked after every step), and their exit displacements on the Hessian eigenvectors
against a dense Hessian."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from sgdnoise.curvature import hessian_eigenvalues
from sgdnoise.data import load_dataset
from sgdnoise.dynamics import escape_by_distance, escape_by_loss, project_displacements
from sgdnoise.errors import InvalidInputError
from sgdnoise.models import MLP
from sgdnoise.plumbing.batches import sample_batch_indices

SEEDS = (0, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def problem():
    """The paper's start: a 3-layer ReLU MLP trained with SGD (lr 0.05, batch 128) on tabular data."""
    x, y = load_dataset("breast_cancer").tensors
    x = x.double()
    torch.manual_seed(0)
    model = MLP((30,), 2, depth=2, width=8).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):  # epochs
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 128):
            idx = order[i : i + 128]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model, (x, y)


def _flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def _loop_escape(model, data, seed, *, lr, batch, max_steps, crossed):
    """One seed: plain SGD from the model's weights until ``crossed(net)``; (σ, escaped, w_σ − w*)."""
    x, y = data
    net = copy.deepcopy(model)
    w_opt = _flat(model)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for t in range(1, max_steps + 1):
        idx = sample_batch_indices(len(x), batch, 1, gen)[0]  # the package rule, one step at a time
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
        if crossed(net):
            return t, True, _flat(net) - w_opt
    return max_steps, False, _flat(net) - w_opt


def _check_against_loop(res, model, data, *, lr, batch, max_steps, crossed):
    for i, s in enumerate(SEEDS):
        step, escaped, disp = _loop_escape(model, data, s, lr=lr, batch=batch, max_steps=max_steps, crossed=crossed)
        assert (res.steps[i], res.escaped[i]) == (step, escaped), s
        assert torch.equal(res.displacement[i], disp), s


DISTANCE = dict(radius=2.0, lr=0.1, batch_size=4, max_steps=800)


@pytest.fixture(scope="module")
def distance_escape(problem):
    model, data = problem
    return escape_by_distance(model, F.cross_entropy, data, seeds=SEEDS, **DISTANCE)


def test_distance_escape_equals_loop(problem, distance_escape):
    model, data = problem
    w_opt, res = _flat(model), distance_escape
    assert res.escaped.sum() >= 2 and not res.escaped.all()  # both outcomes are exercised (some censored)
    _check_against_loop(
        res,
        model,
        data,
        lr=DISTANCE["lr"],
        batch=4,
        max_steps=DISTANCE["max_steps"],
        crossed=lambda net: torch.linalg.vector_norm(_flat(net) - w_opt) > DISTANCE["radius"],
    )


def test_loss_escape_equals_loop(problem):
    model, (x, y) = problem
    sub = (x[:128], y[:128])  # a fixed evaluation subset
    with torch.no_grad():
        threshold = 1.5 * F.cross_entropy(model(sub[0]), sub[1])
    res = escape_by_loss(
        model, F.cross_entropy, (x, y), factor=1.5, seeds=SEEDS, lr=0.2, batch_size=4, max_steps=60, eval_data=sub
    )
    assert res.escaped.sum() >= 2 and not res.escaped.all()

    @torch.no_grad()
    def crossed(net):
        return F.cross_entropy(net(sub[0]), sub[1]) > threshold

    _check_against_loop(res, model, (x, y), lr=0.2, batch=4, max_steps=60, crossed=crossed)


def test_larger_learning_rate_escapes_sooner(problem):
    # Near a minimum one SGD step moves w by η·(gradient + noise), so the distance after t steps
    # grows like η·t (drift) or η·√t (noise): σ(η) falls at least like 1/η. With 16 seeds the
    # spread of σ is a few % of its mean (sd/√S ≈ 10 steps for means of ≈ 200 and ≈ 900 steps
    # here), so 3× the learning rate must beat 5 standard errors of the difference.
    model, data = problem
    kw = dict(radius=1.0, seeds=list(range(16)), batch_size=4, max_steps=3000)
    slow = escape_by_distance(model, F.cross_entropy, data, lr=0.03, **kw)
    fast = escape_by_distance(model, F.cross_entropy, data, lr=0.1, **kw)
    assert slow.escaped.all() and fast.escaped.all()
    a, b = slow.summary(), fast.summary()
    gap = a["mean_steps"] - b["mean_steps"]
    assert gap > 5 * np.hypot(a["mean_steps_stderr"], b["mean_steps_stderr"]), (a, b)


def test_survival_counts_seeds_not_yet_escaped(distance_escape):
    res = distance_escape
    u = np.arange(0, 801, 7)
    expected = [np.mean([not (e and s <= v) for s, e in zip(res.steps, res.escaped)]) for v in u]
    assert res.survival(u).tolist() == expected
    assert np.isnan(res.survival(801.0)) and res.survival(0.0) == 1.0
    assert np.all(np.diff(res.survival(u)) <= 0)


def test_exit_displacement_on_hessian_eigenvectors_matches_dense_hessian(problem, distance_escape):
    model, data = problem
    res = distance_escape
    top = hessian_eigenvalues(model, F.cross_entropy, data, k=3, tol=1e-10)
    shares = project_displacements(res.displacement, top)
    # independent reference: the exact Hessian of the full-data loss and its top-3 eigenspace
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def loss(flat):
        params = {n: c.view(s) for n, c, s in zip(names, flat.split(sizes), shapes)}
        return F.cross_entropy(functional_call(model, params, (data[0],)), data[1])

    H = torch.autograd.functional.hessian(loss, _flat(model))
    _, vecs = torch.linalg.eigh(H)
    P = vecs[:, -3:] @ vecs[:, -3:].T
    dense = ((res.displacement @ P) ** 2).sum(1) / (res.displacement**2).sum(1)
    torch.testing.assert_close(shares.share_top, dense, rtol=1e-6, atol=1e-9)


def test_escape_bad_input(problem):
    model, data = problem
    kw = dict(seeds=[0], lr=0.1, batch_size=4, max_steps=5)
    with pytest.raises(InvalidInputError, match="radius"):
        escape_by_distance(model, F.cross_entropy, data, radius=0.0, **kw)
    with pytest.raises(InvalidInputError, match="factor"):
        escape_by_loss(model, F.cross_entropy, data, factor=0.9, **kw)
    with pytest.raises(InvalidInputError, match="minimum lacks"):
        escape_by_distance(model, F.cross_entropy, data, radius=1.0, minimum={}, **kw)


def test_a_sweep_split_over_workers_equals_one_call_per_point(problem, split_in_process):
    """escape_sweep: every point's seeds in parts (three workers) give the numbers of one
    escape_by_* call per point, bit for bit, in order; each part is one task."""
    from sgdnoise.dynamics import EscapePoint, escape_by_level, escape_sweep
    from sgdnoise.parallel import use_executor

    model, data = problem
    seeds = tuple(range(24))
    points = [
        EscapePoint(0.5, 4, seeds, 150, factor=1.5),
        EscapePoint(0.3, 8, seeds[:16], 100, level=0.5),
        EscapePoint(0.5, 4, seeds, 100, radius=0.5),
    ]
    with use_executor(split_in_process):
        split = escape_sweep(model, F.cross_entropy, data, points)
    assert len(split_in_process.labels) == 3 + 2 + 3  # parts of ≥ 8 seeds, at most one per worker
    alone = [
        escape_by_loss(model, F.cross_entropy, data, factor=1.5, seeds=seeds, lr=0.5, batch_size=4, max_steps=150),
        escape_by_level(model, F.cross_entropy, data, level=0.5, seeds=seeds[:16], lr=0.3, batch_size=8, max_steps=100),
        escape_by_distance(model, F.cross_entropy, data, radius=0.5, seeds=seeds, lr=0.5, batch_size=4, max_steps=100),
    ]
    for ours, theirs in zip(split, alone):
        assert ours.seeds == theirs.seeds and ours.protocol == theirs.protocol
        assert np.array_equal(ours.steps, theirs.steps) and np.array_equal(ours.escaped, theirs.escaped)
        assert torch.equal(ours.displacement, theirs.displacement)
    assert split[0].escaped.sum() > 0  # something to compare


def test_an_escape_point_takes_exactly_one_rule():
    from sgdnoise.dynamics import EscapePoint

    with pytest.raises(InvalidInputError, match="one of factor, level, radius"):
        EscapePoint(0.1, 4, (0, 1), 10, factor=2.0, radius=1.0)
    with pytest.raises(InvalidInputError, match="factor must be"):
        EscapePoint(0.1, 4, (0, 1), 10, factor=0.5)
