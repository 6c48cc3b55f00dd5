"""measure_noise against independent references: collect_noise + fit_sas on a frozen model (the
same K), the noise scale from every per-sample gradient, the top eigenvalue of the exact Hessian;
and that a measurement leaves the model, its modes, its .grad and the global generator alone."""

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise
from sgdnoise.monitor import measure_noise
from sgdnoise.stable import compare_laws, fit_sas, law_wins_by

from .conftest import blobs, tiny_mlp

K, B, ENTRIES = 200, 16, 24


def heavy_tailed(n: int = 1000, seed: int = 0):
    """Inputs with Cauchy tails, so the weights' noise is heavy-tailed (α near 1)."""
    g = np.random.default_rng(seed)
    y = torch.as_tensor(g.integers(0, 3, n))
    x = torch.as_tensor(g.standard_t(1.0, size=(n, 6)), dtype=torch.float32) + y[:, None].float()
    return x, y


@pytest.fixture(scope="module")
def frozen():
    model = tiny_mlp()
    with torch.no_grad():  # BatchNorm statistics that are not the defaults
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    return model, heavy_tailed()


def _median_alpha(alpha: np.ndarray, degenerate: np.ndarray) -> float:
    keep = ~degenerate & (alpha > 0.5 + 1e-6)
    return float(np.median(alpha[keep]))


def test_same_batches_give_collect_noise_and_fit_sas_alpha(frozen):
    model, data = frozen
    loss = nn.CrossEntropyLoss()
    seed = torch.Generator().manual_seed(5)
    ref = collect_noise(model, loss, data, batch_size=B, num_batches=K, seed=seed, params=ENTRIES)
    samples, labels = ref.noise_matrix()
    fit = fit_sas(samples)
    for exact in (True, False):  # with ∇U, or centred on the batches' mean: α and scale do not move
        snap = measure_noise(
            model, loss, data, batch_size=B, num_batches=K, entries=ENTRIES,
            generator=torch.Generator().manual_seed(5), exact_gradient=exact,
        )  # fmt: skip
        assert torch.equal(snap.batch_indices, ref.batch_indices)
        assert [f"{r.layer}[{r.index}]" for r in snap.entries.itertuples()] == labels
        ok = ~fit.degenerate.numpy()
        np.testing.assert_array_equal(snap.entries["degenerate"].to_numpy(), ~ok)
        np.testing.assert_allclose(snap.entries["alpha"].to_numpy()[ok], fit.alpha.numpy()[ok], atol=1e-4)
        np.testing.assert_allclose(snap.entries["scale"].to_numpy()[ok], fit.scale.numpy()[ok], rtol=1e-4)


def test_alpha_per_layer_within_0_1_of_an_independent_collection(frozen):
    model, data = frozen
    loss = nn.CrossEntropyLoss()
    snap = measure_noise(
        model, loss, data, batch_size=B, num_batches=K, entries=ENTRIES, generator=torch.Generator().manual_seed(1)
    )
    ref = collect_noise(model, loss, data, batch_size=B, num_batches=K, seed=2, params=ENTRIES, method="loop")
    assert not torch.equal(snap.batch_indices, ref.batch_indices)
    compared = 0
    for row in snap.layers.itertuples():
        if row.n_entries < ENTRIES:
            continue  # too few entries for a stable median
        fit = fit_sas(ref.noise[row.layer].T)
        reference = _median_alpha(fit.alpha.numpy(), fit.degenerate.numpy())
        assert abs(row.alpha - reference) < 0.1, row.layer
        compared += 1
    assert compared >= 2
    heavy = snap.layers.set_index("layer").loc["0.weight", "alpha"]
    assert heavy < 1.5  # the test is not only about Gaussian noise


def test_noise_scale_against_every_per_sample_gradient(frozen):
    model, _ = frozen
    x, y = blobs(400)  # light tails: the trace's sampling error is the ≈ √(2/K) of a variance
    loss = nn.CrossEntropyLoss()
    model.eval()
    params = dict(model.named_parameters())
    per_sample = []
    for i in range(len(x)):  # brute force: one autograd.grad per sample
        grads = torch.autograd.grad(loss(model(x[i : i + 1]), y[i : i + 1]), list(params.values()))
        per_sample.append(torch.cat([g.flatten() for g in grads]).double())
    model.train()
    per_sample = torch.stack(per_sample)
    full = per_sample.mean(0)
    exact = float((per_sample - full).square().sum(1).mean() / full.square().sum())
    snap = measure_noise(
        model, loss, (x, y), batch_size=B, num_batches=K, entries=4,
        generator=torch.Generator().manual_seed(3), exact_gradient=True,
    )  # fmt: skip
    assert snap.grad_norm_sq == pytest.approx(float(full.square().sum()), rel=1e-4)
    assert snap.b_simple == pytest.approx(exact, rel=0.25)  # K = 200: Tr Σ₁'s sampling error ≈ 10%
    batches = measure_noise(
        model, loss, (x, y), batch_size=B, num_batches=K, entries=4, generator=torch.Generator().manual_seed(3)
    )
    assert batches.trace_sigma == pytest.approx(snap.trace_sigma, rel=1e-5)  # same batches, same variances


def test_top_eigenvalue_against_the_exact_hessian(frozen):
    model, data = frozen
    loss = nn.CrossEntropyLoss()
    snap = measure_noise(
        model, loss, data, batch_size=B, num_batches=20, entries=4,
        generator=torch.Generator().manual_seed(4), hessian=True, hessian_points=100,
    )  # fmt: skip
    flat = snap.batch_indices.flatten().numpy()
    _, first = np.unique(flat, return_index=True)
    idx = torch.as_tensor(flat[np.sort(first)[:100]])
    x, y = data[0][idx].double(), data[1][idx]
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    buffers = {n: b.double() if b.is_floating_point() else b for n, b in model.named_buffers()}
    model64 = tiny_mlp().double().eval()

    def f(theta):
        chunks = theta.split([s.numel() for s in shapes])
        ps = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return loss(functional_call(model64, {**ps, **buffers}, (x,)), y)

    theta = torch.cat([p.detach().double().flatten() for p in model.parameters()])
    top = float(torch.linalg.eigvalsh(torch.func.hessian(f)(theta))[-1])
    assert snap.top_eigenvalue == pytest.approx(top, rel=1e-3, abs=1e-4)
    assert snap.top_eigenvalue_residual < 1e-2 * abs(top)


def test_measurement_changes_nothing(frozen):
    _, data = frozen
    model = tiny_mlp(dropout=0.3)
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a model in train mode keeps its own mode
    out = model(data[0][:8]).sum()
    out.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    measure_noise(
        model, nn.CrossEntropyLoss(), data, batch_size=B, num_batches=20, entries=4,
        generator=torch.Generator().manual_seed(0), hessian=True, hessian_points=32,
    )  # fmt: skip
    assert torch.equal(torch.rand(3), expected)
    assert model.training and not model[1].training and model[3].training
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_bad_sizes_raise(frozen):
    model, data = frozen
    kw = {"entries": 4, "generator": torch.Generator()}
    with pytest.raises(InvalidInputError, match="K ≥ 20"):
        measure_noise(model, nn.CrossEntropyLoss(), data, batch_size=B, num_batches=10, **kw)
    with pytest.raises(InvalidInputError, match="below the 1000 training points"):
        measure_noise(model, nn.CrossEntropyLoss(), data, batch_size=1000, num_batches=20, **kw)


@pytest.mark.parametrize("method", ["loop", "entries"])
def test_a_measurement_leaves_a_conv_net_training_bit_for_bit(method):
    """The loop engine gives 4-D weights channels-last strides for its run and puts the original
    tensors back; a training step after a measurement equals one without it, bit for bit."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)
    )  # fmt: skip
    twin = copy.deepcopy(net)
    x, y = torch.randn(120, 1, 8, 8), torch.randint(0, 3, (120,))
    params = [p for p in net.parameters()]
    strides = [p.stride() for p in params]
    snap = measure_noise(
        net, nn.CrossEntropyLoss(), (x, y), batch_size=8, num_batches=20, entries=4,
        generator=torch.Generator().manual_seed(0), method=method,
    )  # fmt: skip
    assert snap.engine == method
    # an explicit entries engine computes the sampled entries only: no trace over the layers
    assert np.isnan(snap.b_simple) == (method == "entries") and snap.layers["alpha"].notna().all()
    assert [p for p in net.parameters()] == params and [p.stride() for p in net.parameters()] == strides
    for model in (net, twin):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = nn.functional.cross_entropy(model(x[:16]), y[:16])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), twin.state_dict().values()))


def test_laws_per_entry_and_layer_match_compare_laws(frozen):
    model, data = frozen
    loss = nn.CrossEntropyLoss()
    snap = measure_noise(
        model, loss, data, batch_size=B, num_batches=60, entries=6,
        generator=torch.Generator().manual_seed(7), laws=True,
    )  # fmt: skip
    seed = torch.Generator().manual_seed(7)
    ref = collect_noise(model, loss, data, batch_size=B, num_batches=60, seed=seed, params=6)
    samples, _ = ref.noise_matrix()
    names = [n.split("[")[0] for n in ref.selection.entry_labels()]
    compared = compare_laws(samples - samples.mean(1, keepdim=True), method="cf").assign(layer=names)
    expected = [w if w else None for w in compared["best_aic"]]
    assert snap.entries["law"].tolist() == expected
    assert snap.entries["entry_class"].tolist() == compared["class"].astype(str).tolist()
    wins = law_wins_by(compared, "layer").set_index("layer")
    layers = snap.layers.set_index("layer")
    for law in ("gauss", "sas", "stable", "t", "mixture"):
        np.testing.assert_allclose(layers[f"wins_{law}"], wins.loc[layers.index, f"wins_{law}"])
    assert layers.loc["0.weight", "law"] != "gauss"  # Cauchy inputs: a heavy-tailed law wins
