"""Across-parameters samples (Simsekli et al. 2019): the published construction reproduced,
and the fixed version."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sgdnoise.gradients import collect_noise, minibatch_noise_vectors, pooled_noise, simsekli_pooled_noise
from sgdnoise.stable import sample_sas

from .cases import make_case


def _published_construction(net, crit, x, y, batch_size):
    """Re-typed from sgd_tail_index (main.py ``eval`` + utils.py ``get_grads``) as a reference."""
    net.eval()
    grads = []
    P = 0
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False):
        P += 1
        net.zero_grad()
        crit(net(xb), yb).backward()
        grads.append(torch.cat([p.grad.view(-1) for p in net.parameters() if p.requires_grad]))
    M = len(grads[0])
    grads = torch.cat(grads).view(-1, M)
    mean_grad = grads.sum(0) / P
    N = M * P
    for i in range(1, 1 + int(math.sqrt(N))):
        if N % i == 0:
            m = i
    return (grads - mean_grad).view(-1), m


def _mohammadi_alpha(values: torch.Tensor, k1: int) -> float:
    """Mohammadi et al. (2015): 1/α = (mean log|Y_i| − mean log|X_j|)/log K1, Y_i = block sums."""
    x = values[: (values.numel() // k1) * k1]
    y = x.reshape(-1, k1).sum(1)
    return float(math.log(k1) / (y.abs().log().mean() - x.abs().log().mean()))


def test_simsekli_construction_matches_the_published_code(loss_fn):
    model, (x, y) = make_case("cnn", num_points=30)  # 30 points, B = 8: a short last batch
    ours = simsekli_pooled_noise(model, loss_fn, (x, y), batch_size=8)
    ref_values, ref_block = _published_construction(model, loss_fn, x, y, 8)
    assert ours.construction == "simsekli" and ours.num_batches == 4 and ours.dropped == 0
    assert ours.block_size == ref_block
    torch.testing.assert_close(ours.values, ref_values, atol=1e-12, rtol=0)


def test_simsekli_block_size_collapses_for_prime_n_and_the_fix_does_not():
    torch.manual_seed(0)
    model = nn.Linear(2, 1).double()  # M = 3 parameters
    x, y = torch.randn(7, 2, dtype=torch.float64), torch.randn(7, 1, dtype=torch.float64)
    published = simsekli_pooled_noise(model, nn.MSELoss(), (x, y), batch_size=7)  # P = 1, N = 3
    assert published.values.numel() == 3 and published.block_size == 1  # log K1 = 0: α undefined
    result = collect_noise(model, nn.MSELoss(), (x, y), batch_size=2, num_batches=37, seed=0)
    fixed = pooled_noise(result, seed=0)  # N = 3·37 = 111 = 3·37: published rule would give K1 = 3
    assert fixed.block_size == 10 and fixed.num_blocks == 11 and fixed.dropped == 1


def test_fixed_pool_is_a_permuted_subset_and_recovers_alpha(loss_fn):
    model, data = make_case("mlp")
    result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=100, seed=0, params="fc2.weight")
    vectors = minibatch_noise_vectors(result)
    assert vectors.shape == (100, 100)
    torch.testing.assert_close(vectors[3], result.noise["fc2.weight"][3].flatten())
    pooled = pooled_noise(result, seed=1)
    assert pooled.block_size == 100 and pooled.num_blocks == 100 and pooled.dropped == 0
    assert torch.equal(pooled.values.sort().values, vectors.flatten().sort().values)
    assert torch.equal(pooled.values, pooled_noise(result, seed=1).values)

    # With i.i.d. SαS values of α = 1.5 in place of the network's noise, the Mohammadi estimator
    # on the fixed blocks recovers α: K2 = 100 blocks give a standard error ≈ 0.06; allow 0.25.
    sas = sample_sas(1.5, 1.0, (100, 100), seed=3)
    synthetic = dataclasses.replace(result, noise={"fc2.weight": torch.as_tensor(sas).reshape(100, 10, 10)})
    fixed = pooled_noise(synthetic, seed=2)
    assert abs(_mohammadi_alpha(fixed.values, fixed.block_size) - 1.5) < 0.25
