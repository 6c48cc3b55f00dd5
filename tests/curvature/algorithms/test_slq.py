"""Stochastic Lanczos quadrature: Gauss quadrature is exact for polynomials of degree < 2m."""

import pytest
import torch

from sgdnoise.curvature.algorithms import spectral_density
from sgdnoise.curvature.algorithms.probes import rademacher
from sgdnoise.curvature.operators import DenseOperator
from sgdnoise.rng import as_generator

from ..conftest import spectrum_matrix

SPECTRUM = torch.cat([torch.tensor([12.0, 8.0], dtype=torch.float64), torch.linspace(-1, 1, 118, dtype=torch.float64)])
MATRIX = spectrum_matrix(SPECTRUM, seed=5)


def test_quadrature_reproduces_probe_moments_exactly():
    op = DenseOperator(MATRIX)
    m = 10
    sd = spectral_density(op, n_probes=4, n_iter=m, seed=7)
    probes = rademacher(op, 4, as_generator(7))  # the same probes the estimator drew first
    assert torch.allclose(sd.weights.sum(1), torch.ones(4, dtype=torch.float64))
    for power in (1, 2, 7, 2 * m - 1):
        quad = op.dim * (sd.weights * sd.nodes**power).sum(1)
        exact = (probes * (torch.linalg.matrix_power(MATRIX, power) @ probes)).sum(0)
        assert torch.allclose(quad, exact, rtol=1e-8)
    assert sd.n_products == 4 * m


def test_density_integrates_to_one_and_locates_the_outliers():
    sd = spectral_density(DenseOperator(MATRIX), n_probes=8, n_iter=40, seed=0)
    grid = torch.linspace(-3, 15, 3001, dtype=torch.float64)
    dens = sd.density(grid, 0.1)
    assert abs(float(torch.trapezoid(dens, grid)) - 1) < 1e-3
    assert float(sd.nodes.max()) == pytest.approx(12.0, rel=1e-8)  # extreme nodes converge first
    estimate, stderr = sd.trace_of(lambda t: t)
    assert abs(estimate - float(SPECTRUM.sum())) < 4 * stderr
