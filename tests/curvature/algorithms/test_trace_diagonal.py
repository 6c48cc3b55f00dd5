"""Trace and diagonal estimators: unbiasedness within standard errors, exactness where exact."""

import pytest
import torch

from sgdnoise.curvature.algorithms import diagonal, hutchinson_trace, hutchpp_trace
from sgdnoise.curvature.operators import DenseOperator, GramOperator
from sgdnoise.errors import ConfigError, InvalidInputError

from ..conftest import spectrum_matrix

GEN = torch.Generator().manual_seed(1)
SPECTRUM = torch.cat(
    [torch.tensor([30.0, 20, 10], dtype=torch.float64), torch.rand(197, generator=GEN, dtype=torch.float64)]
)
MATRIX = spectrum_matrix(SPECTRUM, seed=3)


@pytest.mark.parametrize("estimator", [hutchinson_trace, hutchpp_trace])
def test_trace_estimates_are_within_three_standard_errors_over_seeds(estimator):
    # 20 independent runs of 60 products: each |error|/stderr is approximately |t_{m-1}|;
    # with 20 probes or more P(|t| > 3) < 1%, so all 20 within 3.5 and most within 2 is a safe check.
    op = DenseOperator(MATRIX)
    z = torch.tensor(
        [
            (estimator(op, 60, seed=s).estimate - float(SPECTRUM.sum())) / estimator(op, 60, seed=s).stderr
            for s in range(20)
        ]
    )
    assert (z.abs() < 3.5).all() and (z.abs() < 2).float().mean() > 0.8


def test_hutchpp_is_exact_on_a_low_rank_operator_and_beats_hutchinson_on_outliers():
    rows = torch.randn(5, 200, generator=GEN, dtype=torch.float64)
    low_rank = GramOperator(rows, 0.3)
    result = hutchpp_trace(low_rank, 30)
    assert result.estimate == pytest.approx(low_rank.trace(), rel=1e-10) and result.stderr < 1e-8
    op = DenseOperator(MATRIX)
    assert hutchpp_trace(op, 99).stderr < hutchinson_trace(op, 99).stderr / 3
    assert hutchpp_trace(op, 99).n_products == 99


def test_exact_diagonal_and_stochastic_diagonal_errors():
    op = DenseOperator(MATRIX)
    exact = diagonal(op, method="exact", block_size=64)
    assert torch.equal(exact.estimate, MATRIX.diagonal()) and exact.exact and exact.n_products == 200
    est = diagonal(op, n_probes=400, seed=2)
    z = (est.estimate - MATRIX.diagonal()) / est.stderr
    # 200 coordinates, 400 probes each: z ≈ N(0,1); a 4.5σ excursion has probability < 1e-3 in 200 draws
    assert z.abs().max() < 4.5 and 0.8 < z.std() < 1.2


def test_invalid_arguments():
    op = DenseOperator(MATRIX)
    with pytest.raises(InvalidInputError, match="n_probes must be an int ≥ 2"):
        hutchinson_trace(op, 1)
    with pytest.raises(InvalidInputError, match="n_products must be an int ≥ 6"):
        hutchpp_trace(op, 5)
    with pytest.raises(InvalidInputError, match="n_probes must be an int ≥ 2"):
        diagonal(op, n_probes=1.0)
    with pytest.raises(ConfigError):
        diagonal(op, method="bogus")
