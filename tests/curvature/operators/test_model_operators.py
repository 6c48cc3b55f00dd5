"""Model operators against brute-force autograd references on small float64 networks."""

import pytest
import torch
from torch import nn
from torch.autograd.functional import hessian, jacobian
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from sgdnoise.curvature.functional import FunctionalModel
from sgdnoise.curvature.operators import EmpiricalFisherOperator, GGNOperator, HessianOperator
from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.plumbing.parameters import ParameterSpace

from ..conftest import PairDataset, classification_data, exact_hessian, regression_data, small_mlp

MSE_NONE_MEAN = lambda out, y: F.mse_loss(out, y, reduction="none").mean()  # noqa: E731


@pytest.mark.parametrize("method", ["double_backward", "forward_over_reverse"])
@pytest.mark.parametrize("chunk_size", [7, 1024])  # uneven chunks 7,7,...,5; one chunk (graph reused)
def test_hessian_matches_autograd_hessian_with_chunks(mlp_ce, method, chunk_size):
    model, loss_fn, data, h_exact = mlp_ce
    op = HessianOperator(model, loss_fn, data, method=method, chunk_size=chunk_size)
    assert torch.allclose(op.to_dense(block_size=10), h_exact, atol=1e-12)
    assert torch.allclose(op.to_dense(block_size=10), h_exact, atol=1e-12)  # again: a reused graph stays valid
    assert op.n_products == 2 * op.dim


def test_hessian_matvec_matmat_agree_and_count_products(mlp_ce):
    model, loss_fn, data, h_exact = mlp_ce
    op = HessianOperator(model, loss_fn, data)
    v = torch.randn(op.dim, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(op.matmat(v), h_exact @ v, atol=1e-12)
    assert torch.allclose(op.matvec(v[:, 0]), h_exact @ v[:, 0], atol=1e-12)
    assert torch.allclose(op @ v[:, 1], h_exact @ v[:, 1], atol=1e-12)
    assert op.n_products == 5
    with pytest.raises(InvalidInputError, match="shape"):
        op.matmat(torch.zeros(op.dim + 1, 2))


def test_forward_over_reverse_refuses_torch_mse_mean_with_advice():
    model, data = small_mlp(), regression_data()
    with pytest.raises(ConfigError, match="double_backward"):
        HessianOperator(model, F.mse_loss, data, method="forward_over_reverse").matvec(
            torch.ones(51, dtype=torch.float64)
        )
    op = HessianOperator(model, MSE_NONE_MEAN, data, method="forward_over_reverse")
    assert torch.allclose(op.to_dense(), exact_hessian(model, F.mse_loss, *data), atol=1e-12)


def test_dataloader_equals_tensor_pair(mlp_ce):
    model, loss_fn, (x, y), h_exact = mlp_ce
    loader = DataLoader(TensorDataset(x, y), batch_size=9)
    assert torch.allclose(HessianOperator(model, loss_fn, loader).to_dense(), h_exact, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [7, 1024])  # chunks of points; all points in one chunk (graph reused)
def test_map_style_dataset_equals_tensor_pair(mlp_ce, chunk_size):
    model, loss_fn, (x, y), h_exact = mlp_ce
    op = HessianOperator(model, loss_fn, PairDataset(x, y), chunk_size=chunk_size)
    assert torch.allclose(op.to_dense(block_size=10), h_exact, atol=1e-12)
    assert torch.allclose(op.to_dense(block_size=10), h_exact, atol=1e-12)


def test_parameter_subset_is_the_submatrix(mlp_ce):
    model, loss_fn, data, h_exact = mlp_ce
    op = HessianOperator(model, loss_fn, data, params=["2.*"])
    start = ParameterSpace(model).slices()["2.weight"].start
    assert torch.allclose(op.to_dense(), h_exact[start:, start:], atol=1e-12)


def test_full_data_loss_and_gradient(mlp_ce):
    model, loss_fn, (x, y), _ = mlp_ce
    op = HessianOperator(model, loss_fn, (x, y), chunk_size=6)
    model.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    assert float(op.loss()) == pytest.approx(float(loss.detach()), rel=1e-12)
    assert torch.allclose(op.gradient(), torch.cat([p.grad.reshape(-1) for p in model.parameters()]), atol=1e-12)


def _bn_dropout_net() -> nn.Module:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 3)).double()
    net.train()
    net(torch.randn(32, 4, dtype=torch.float64))  # non-trivial running statistics
    return net


def test_batchnorm_and_dropout_use_eval_mode_and_restore_flags():
    net = _bn_dropout_net()
    x, y = classification_data()
    running = net[1].running_mean.clone()
    op = HessianOperator(net, F.cross_entropy, (x, y), chunk_size=16)
    got = op.to_dense()
    net.eval()
    reference = exact_hessian(net, F.cross_entropy, x, y)  # eval model: dropout off, running stats
    net.train()
    assert torch.allclose(got, reference, atol=1e-12)
    assert all(m.training for m in net.modules())  # flags restored
    assert torch.equal(net[1].running_mean, running)  # statistics untouched


def test_train_mode_refuses_dropout_and_averages_batchnorm_chunks():
    net = _bn_dropout_net()
    x, y = classification_data()
    with pytest.raises(InvalidInputError, match="dropout"):
        HessianOperator(net, F.cross_entropy, (x, y), mode="train")
    net[3].p = 0.0
    running = net[1].running_mean.clone()
    got = HessianOperator(net, F.cross_entropy, (x, y), chunk_size=20, mode="train").to_dense()
    # reference: average of the train-mode Hessians of the two chunks of 20 (batch statistics per chunk)
    halves = [exact_hessian(net, F.cross_entropy, x[i : i + 20], y[i : i + 20], mode="train") for i in (0, 20)]
    assert torch.allclose(got, (halves[0] + halves[1]) / 2, atol=1e-12)
    assert torch.equal(net[1].running_mean, running)
    with pytest.raises(ConfigError, match="mode"):
        HessianOperator(net, F.cross_entropy, (x, y), mode="training")


def test_tied_weights_sum_the_curvature_of_every_use():
    torch.manual_seed(0)
    shared = nn.Linear(3, 3, bias=False).double()
    net = nn.Sequential(shared, nn.Tanh(), shared)
    x, y = regression_data(n=10, d_in=3, d_out=3)
    w0 = shared.weight.detach().clone()

    def loss_of_w(w):
        return F.mse_loss(torch.tanh(x @ w.T) @ w.T, y)

    reference = hessian(lambda flat: loss_of_w(flat.view(3, 3)), w0.reshape(-1))
    assert torch.allclose(HessianOperator(net, F.mse_loss, (x, y)).to_dense(), reference, atol=1e-12)


def _jacobian_and_output_hessians(model, loss_fn, x, y):
    space = ParameterSpace(model)
    fmodel = FunctionalModel(model, loss_fn, space)
    theta = space.vector()
    jac = jacobian(lambda th: fmodel.output(th, x), theta)  # (n, c, D)
    out = fmodel.output(theta, x)
    h_out = torch.stack([hessian(lambda o, i=i: loss_fn(o.unsqueeze(0), y[i : i + 1]), out[i]) for i in range(len(x))])
    return jac, h_out  # h_out (n, c, c): Hessian of the single-sample loss in the output


@pytest.mark.parametrize("loss_name", ["mse", "ce"])
def test_ggn_matches_brute_force_jacobian_sandwich(loss_name):
    model = small_mlp()
    if loss_name == "mse":
        x, y = regression_data()
        loss_fn = F.mse_loss
    else:
        x, y = classification_data()
        loss_fn = F.cross_entropy
    jac, h_out = _jacobian_and_output_hessians(model, loss_fn, x, y)
    reference = torch.einsum("ncd,nce,nef->df", jac, h_out, jac) / len(x)
    got = GGNOperator(model, loss_fn, (x, y), chunk_size=11).to_dense()
    assert torch.allclose(got, reference, atol=1e-12)
    if loss_name == "ce":  # Fisher form: per sample the output Hessian is diag(p) − ppᵀ
        p = torch.softmax(model(x), 1).detach()
        assert torch.allclose(h_out, torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1), atol=1e-12)


def test_ggn_equals_hessian_for_a_linear_model_with_mse():
    torch.manual_seed(0)
    model = nn.Linear(4, 2).double()
    x, y = regression_data(d_out=2)
    assert torch.allclose(
        GGNOperator(model, F.mse_loss, (x, y)).to_dense(), exact_hessian(model, F.mse_loss, x, y), atol=1e-12
    )


def test_empirical_fisher_matches_a_loop_of_autograd_grads(mlp_ce):
    model, loss_fn, (x, y), _ = mlp_ce
    grads = []
    for i in range(len(x)):
        model.zero_grad()
        loss_fn(model(x[i : i + 1]), y[i : i + 1]).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    g = torch.stack(grads)
    got = EmpiricalFisherOperator(model, loss_fn, (x, y), chunk_size=16).to_dense()
    assert torch.allclose(got, g.T @ g / len(x), atol=1e-12)
