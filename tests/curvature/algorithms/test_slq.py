"""Stochastic Lanczos quadrature: Gauss quadrature is exact for polynomials of degree < 2m."""

import pytest
import torch

from sgdnoise.curvature.algorithms import spectral_density
from sgdnoise.curvature.algorithms.probes import rademacher
from sgdnoise.curvature.operators import DenseOperator, HessianOperator
from sgdnoise.errors import InvalidInputError
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


def test_defaults_on_a_model_smaller_than_n_iter_clamp_to_d_and_are_exact(mlp_ce):
    # D = 51 < the default n_iter = 80: D steps, reported as such; every probe's nodes are the
    # exact eigenvalues of the Hessian and its weights reproduce the probe's moments zᵀHᵏz/D
    model, loss_fn, data, h_exact = mlp_ce
    op = HessianOperator(model, loss_fn, data)
    assert op.dim == 51
    sd = spectral_density(op)
    assert (sd.n_iter, sd.requested_iter, sd.clamped) == (51, 80, True)
    assert "clamped to D=51" in sd.note and sd.to_dict()["n_iter"] == 51
    assert sd.nodes.shape == (10, 51) and sd.n_products == 10 * 51
    exact = torch.linalg.eigvalsh(h_exact)
    scale = float(exact.abs().max())
    for nodes in sd.nodes:
        assert torch.allclose(nodes.sort().values, exact, rtol=0, atol=1e-10 * scale)
    probes = rademacher(op, 10, as_generator(0))  # the probes the estimator drew first (seed 0)
    h_power = torch.eye(op.dim, dtype=torch.float64)
    for power in range(6):
        quad = (sd.weights * sd.nodes**power).sum(1)
        probe_moment = (probes * (h_power @ probes)).sum(0) / op.dim
        assert torch.allclose(quad, probe_moment, rtol=1e-9, atol=1e-12 * scale**power)
        h_power = h_exact @ h_power
    estimate, stderr = sd.trace_of(lambda t: t)
    assert abs(estimate - float(exact.sum())) < 4 * stderr


def test_asking_for_d_steps_or_more_gives_the_same_result_and_bad_counts_are_refused():
    op = DenseOperator(spectrum_matrix(torch.linspace(-1, 3, 30, dtype=torch.float64), seed=2))
    exact_d, more = spectral_density(op, n_iter=30, seed=4), spectral_density(op, n_iter=200, seed=4)
    assert not exact_d.clamped and exact_d.note == "" and more.clamped
    assert torch.equal(exact_d.nodes, more.nodes) and torch.equal(exact_d.weights, more.weights)
    for bad in ({"n_iter": 0}, {"n_iter": 2.5}, {"n_probes": 0}):
        with pytest.raises(InvalidInputError):
            spectral_density(op, **bad)
