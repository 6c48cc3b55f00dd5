"""The short way in against exact Hessians (``torch.autograd.functional.hessian``) of small networks."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sgdnoise.curvature import hessian_eigenvalues, hessian_trace
from sgdnoise.errors import ConfigError

from .conftest import classification_data, exact_hessian, regression_data, small_mlp


def _conv_net() -> nn.Module:
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 3)
    ).double()
    net.train()
    net(torch.randn(16, 1, 6, 6, dtype=torch.float64))  # give BatchNorm running statistics
    return net.eval()


@pytest.fixture(scope="module")
def conv_bn():
    """A conv net with BatchNorm (eval mode) and cross-entropy, with its exact Hessian."""
    img = torch.randn(30, 1, 6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = classification_data(n=30)[1]
    net = _conv_net()
    return net, F.cross_entropy, (img, y), exact_hessian(net, F.cross_entropy, img, y)


@pytest.fixture(params=["mlp_ce", "mlp_mse", "conv_bn"])
def case(request):
    return request.getfixturevalue(request.param)


def test_top_eigenvalues_match_the_exact_hessian_to_1e4(case):
    model, loss_fn, data, h_exact = case
    exact = torch.linalg.eigvalsh(h_exact).flip(0)[:5]
    result = hessian_eigenvalues(model, loss_fn, data, k=5, tol=1e-4, chunk_size=16)
    assert torch.allclose(result.eigenvalues, exact, rtol=1e-4, atol=0)
    assert result.all_converged and result.n_products <= h_exact.shape[0]


def test_magnitude_gives_the_eigenvalues_farthest_from_zero_of_either_sign():
    # squared error against targets far from the outputs: the residual term of the Hessian makes
    # its three largest eigenvalues in magnitude negative
    model, (x, y) = small_mlp(seed=6), regression_data(seed=0)
    h_exact = exact_hessian(model, F.mse_loss, x, 10 * y)
    lam = torch.linalg.eigvalsh(h_exact)
    by_magnitude = lam[lam.abs().argsort(descending=True)][:5]
    assert (by_magnitude[:3] < 0).all() and not torch.equal(by_magnitude, lam.flip(0)[:5])
    result = hessian_eigenvalues(model, F.mse_loss, (x, 10 * y), k=5, which="magnitude", tol=1e-8)
    assert torch.allclose(result.eigenvalues, by_magnitude, rtol=1e-8, atol=0)
    assert result.which == "magnitude" and result.all_converged and result.n_products <= h_exact.shape[0]
    vecs = result.eigenvectors
    true_residuals = (h_exact @ vecs - vecs * result.eigenvalues).norm(dim=0)
    assert torch.allclose(true_residuals, result.residuals, atol=1e-10)
    assert (result.residuals <= 1e-8 * result.eigenvalues.abs()).all()
    power = hessian_eigenvalues(model, F.mse_loss, (x, 10 * y), k=2, which="magnitude", method="power", tol=1e-8)
    assert power.which == "magnitude" and torch.allclose(power.eigenvalues, by_magnitude[:2], rtol=1e-6, atol=0)


def test_power_method_agrees_on_the_top_eigenvalue(mlp_ce):
    model, loss_fn, data, h_exact = mlp_ce
    lam = torch.linalg.eigvalsh(h_exact)
    top = lam[lam.abs().argmax()]
    result = hessian_eigenvalues(model, loss_fn, data, k=1, method="power", tol=1e-6)
    assert float(result.eigenvalues[0]) == pytest.approx(float(top), rel=1e-6)
    with pytest.raises(ConfigError):
        hessian_eigenvalues(model, loss_fn, data, k=1, method="power", which="bottom")


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
def test_trace_is_within_three_standard_errors_of_the_exact_trace(case, method):
    # one fixed seed per case; the z-score is ~ t with >= 30 degrees of freedom, so
    # |z| < 3 fails with probability < 0.5% per case
    model, loss_fn, data, h_exact = case
    result = hessian_trace(model, loss_fn, data, n_products=90, method=method, seed=11)
    assert result.stderr > 0
    assert abs(result.estimate - float(h_exact.trace())) < 3 * result.stderr
    assert result.n_products == 90
