"""The curvature recipe: a named network on a seeded subset of a named dataset, against the exact Hessian."""

import json

import pytest
import torch
from scipy.integrate import trapezoid
from torch.autograd.functional import hessian
from torch.func import functional_call
from torch.nn import functional as F

from sgdnoise.data import load_dataset
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.curvature import CurvatureConfig, run_curvature
from sgdnoise.models import seeded_model

CONFIG = CurvatureConfig(
    model_options={"depth": 1, "width": 4}, k=3, max_samples=64, batch_size=8, trace_products=30, seed=2
)


@pytest.fixture(scope="module")
def result():
    return run_curvature(CONFIG)


def _exact_hessian(config):
    """Reference: float64 autograd Hessian of the mean cross-entropy on the same seeded subset and weights."""
    data = load_dataset(config.data, split="train")
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.seed))[: config.max_samples]
    x, y = data.inputs[pick].double(), data.targets[pick]
    model = seeded_model(
        config.model, input_shape=(64,), num_classes=10, seed=config.seed, **config.model_options
    ).double()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(theta):
        pieces = theta.split([s.numel() for s in shapes])
        params = {n: v.reshape(s) for n, v, s in zip(names, pieces, shapes)}
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    return hessian(loss, flat)


def test_top_eigenvalues_and_trace_match_the_exact_hessian(result):
    h = _exact_hessian(CONFIG)
    exact = torch.linalg.eigvalsh(h).flip(0)
    s = result.summary
    assert s.dim == h.shape[0] and s.n_samples == CONFIG.max_samples
    torch.testing.assert_close(s.eigen.eigenvalues.double(), exact[:3], rtol=2e-3, atol=0)
    assert abs(s.trace.estimate - float(h.trace())) < 4 * s.trace.stderr


def test_density_grid_spans_the_nodes_and_integrates_to_one(result):
    d = result.density
    nodes = result.summary.density.nodes
    assert len(d) == 400 and d.eigenvalue.iloc[0] < float(nodes.min()) and d.eigenvalue.iloc[-1] > float(nodes.max())
    # a mixture of Gaussians with weights summing to 1, whose tails reach 5 widths past the grid: mass ≈ 1
    assert trapezoid(d.density, d.eigenvalue) == pytest.approx(1.0, abs=0.01)


def test_write_gives_the_summary_the_density_and_both_figures(result, tmp_path):
    paths = result.write(tmp_path)
    assert {p.name for p in paths.values()} == {"summary.json", "density.csv", "spectral_density.png", "alignment.png"}
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["summary"]["eigen"]["eigenvalues"] == pytest.approx(result.summary.eigen.eigenvalues.tolist())
    assert saved["manifest"]["config"]["model_options"] == {"depth": 1, "width": 4} and saved["manifest"]["seed"] == 2
    for figure in ("spectral_density.png", "alignment.png"):
        assert (tmp_path / figure).stat().st_size > 1000
    assert json.dumps(result.to_dict())


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"k": 0}, "k must be an int ≥ 1; got 0"),
        ({"max_samples": 1}, "max_samples must be an int ≥ 2; got 1"),
        ({"trace_products": 0}, "trace_products must be an int ≥ 1; got 0"),
    ],
)
def test_bad_configuration_is_refused(kw, message):
    with pytest.raises(ConfigError, match=message):
        CurvatureConfig(**kw)
