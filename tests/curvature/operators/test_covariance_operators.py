"""Σ, empirical Fisher and Gram operators against explicit formulas and exhaustive enumeration."""

import itertools

import pytest
import torch

from sgdnoise.curvature.operators import (
    DenseOperator,
    GramOperator,
    empirical_fisher,
    minibatch_noise_covariance,
    noise_covariance,
)
from sgdnoise.errors import InvalidInputError, TooFewSamplesError

GEN = torch.Generator().manual_seed(0)
GRADS = torch.randn(6, 4, generator=GEN, dtype=torch.float64) + torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)


def _exact_minibatch_covariance(grads: torch.Tensor, batch: int, replacement: bool) -> torch.Tensor:
    """Covariance of the mini-batch mean gradient by enumerating every mini-batch (equally likely)."""
    n = grads.shape[0]
    index_sets = itertools.product(range(n), repeat=batch) if replacement else itertools.combinations(range(n), batch)
    means = torch.stack([grads[list(idx)].mean(0) for idx in index_sets])
    centred = means - grads.mean(0)
    return centred.T @ centred / means.shape[0]


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_eq2_with_replacement_is_the_exact_minibatch_covariance(batch):
    sigma = noise_covariance(GRADS, batch).to_dense()
    assert torch.allclose(sigma, _exact_minibatch_covariance(GRADS, batch, True), atol=1e-12)


@pytest.mark.parametrize("batch", [2, 3, 5])
def test_without_replacement_factor_is_the_exact_minibatch_covariance(batch):
    sigma = noise_covariance(GRADS, batch, without_replacement=True).to_dense()
    assert torch.allclose(sigma, _exact_minibatch_covariance(GRADS, batch, False), atol=1e-12)


def test_gram_operator_products_trace_diagonal_factor_are_consistent():
    op = noise_covariance(GRADS, 2)
    dense = op.to_dense()
    assert torch.equal(DenseOperator(dense).to_dense(), dense)
    v = torch.randn(4, 3, generator=GEN, dtype=torch.float64)
    assert torch.allclose(op.matmat(v), dense @ v, atol=1e-12)
    assert op.trace() == pytest.approx(float(dense.trace()), rel=1e-12)
    assert torch.allclose(op.diagonal(), dense.diagonal(), atol=1e-12)
    assert torch.allclose(op.factor().T @ op.factor(), dense, atol=1e-12)


def test_empirical_fisher_is_the_uncentred_second_moment():
    assert torch.allclose(empirical_fisher(GRADS).to_dense(), GRADS.T @ GRADS / 6, atol=1e-12)


def test_minibatch_covariance_with_and_without_the_full_gradient():
    mb = torch.randn(50, 4, generator=GEN, dtype=torch.float64)
    assert torch.allclose(minibatch_noise_covariance(mb).to_dense(), torch.cov(mb.T), atol=1e-12)
    full = torch.zeros(4, dtype=torch.float64)
    assert torch.allclose(minibatch_noise_covariance(mb, full).to_dense(), mb.T @ mb / 50, atol=1e-12)


def test_invalid_inputs():
    with pytest.raises(TooFewSamplesError):
        noise_covariance(GRADS[:1])
    with pytest.raises(InvalidInputError, match="batch_size"):
        noise_covariance(GRADS, 7)
    with pytest.raises(InvalidInputError, match="NaN"):
        GramOperator(torch.full((2, 2), float("nan")), 1.0)
    with pytest.raises(InvalidInputError, match="symmetric"):
        DenseOperator(torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(InvalidInputError, match="full_gradient"):
        minibatch_noise_covariance(GRADS, torch.zeros(3, dtype=torch.float64))
