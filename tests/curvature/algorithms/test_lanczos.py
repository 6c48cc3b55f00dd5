"""Lanczos on random symmetric matrices ``Q diag(λ) Qᵀ`` whose spectrum is known exactly."""

import pytest
import torch

from sgdnoise.curvature.algorithms import LanczosProcess, lanczos, ritz_converged
from sgdnoise.curvature.operators import DenseOperator
from sgdnoise.errors import ConfigError, ConvergenceError, InvalidInputError

from ..conftest import spectrum_matrix

GEN = torch.Generator().manual_seed(0)
# 8 separated outliers on both sides of a dense bulk in [-1, 1]: a Hessian-like spectrum
SPECTRUM = torch.cat(
    [
        torch.tensor([40.0, 25, 18, 12, 9, 7, 6, 5, -4, -6], dtype=torch.float64),
        torch.rand(390, generator=GEN, dtype=torch.float64) * 2 - 1,
    ]
)
MATRIX = spectrum_matrix(SPECTRUM)


@pytest.mark.parametrize("which", ["top", "bottom"])
def test_extreme_eigenvalues_to_the_requested_accuracy(which):
    k = 5 if which == "top" else 2
    result = lanczos(DenseOperator(MATRIX), k, which=which, tol=1e-8)
    exact = SPECTRUM.sort(descending=which == "top").values[:k]
    assert torch.allclose(result.eigenvalues, exact, rtol=1e-8, atol=0)
    assert result.all_converged and result.n_products == result.n_iter < 100
    # the reported residuals are the true ones
    true_res = (MATRIX @ result.eigenvectors - result.eigenvectors * result.eigenvalues).norm(dim=0)
    assert torch.allclose(true_res, result.residuals, atol=1e-9)
    vecs = result.eigenvectors
    assert torch.allclose(vecs.T @ vecs, torch.eye(k, dtype=torch.float64), atol=1e-10)


def test_magnitude_takes_the_largest_absolute_values_from_both_ends():
    spectrum = torch.cat(
        [torch.tensor([20.0, 10.0, 5.0, -30.0, -15.0], dtype=torch.float64), torch.linspace(-1, 1, 195).double()]
    )
    matrix = spectrum_matrix(spectrum, seed=3)
    result = lanczos(DenseOperator(matrix), 4, which="magnitude", tol=1e-10)
    assert torch.allclose(result.eigenvalues, torch.tensor([-30.0, 20.0, -15.0, 10.0]).double(), rtol=1e-10, atol=0)
    true_res = (matrix @ result.eigenvectors - result.eigenvectors * result.eigenvalues).norm(dim=0)
    assert torch.allclose(true_res, result.residuals, atol=1e-9) and result.all_converged


@pytest.mark.parametrize("seed", range(3))
def test_magnitude_waits_for_the_slower_end(seed):
    # an outlier at 8 converges within a few steps; the bottom edge -8.2 of a dense bulk creeps
    # outwards from above -8 for longer. Stopping as soon as the wanted pair settles would
    # return 8 (checked: it did, after 6-7 steps at tol 1e-2)
    spectrum = torch.cat([torch.tensor([8.0], dtype=torch.float64), torch.linspace(-8.2, 1.0, 399).double()])
    result = lanczos(DenseOperator(spectrum_matrix(spectrum, seed=1)), 1, which="magnitude", tol=1e-2, seed=seed)
    assert float(result.eigenvalues[0]) == pytest.approx(-8.2, rel=1e-2)


def test_unconverged_values_raise_or_are_flagged():
    op = DenseOperator(MATRIX)
    with pytest.raises(ConvergenceError, match="did not converge"):
        lanczos(op, 5, tol=1e-10, max_iter=8)
    flagged = lanczos(op, 5, tol=1e-10, max_iter=8, strict=False)
    assert not flagged.all_converged
    assert (flagged.residuals[~flagged.converged] > 1e-10 * flagged.eigenvalues[~flagged.converged].abs()).all()
    # even unconverged, each Ritz value lies within its residual of a true eigenvalue
    dist = (flagged.eigenvalues.unsqueeze(1) - SPECTRUM).abs().min(1).values
    assert (dist <= flagged.residuals + 1e-12).all()


def test_small_operator_is_solved_exactly_through_breakdown():
    # repeated eigenvalues make the Krylov space invariant early; the restart continues to D
    spectrum = torch.tensor([3.0, 3.0, 1.0, 1.0, 0.5, -2.0], dtype=torch.float64)
    result = lanczos(DenseOperator(spectrum_matrix(spectrum, seed=4)), 6, tol=1e-10)
    assert torch.allclose(result.eigenvalues, spectrum.sort(descending=True).values, atol=1e-10)


def test_same_seed_same_result_and_input_checks():
    op = DenseOperator(MATRIX)
    assert torch.equal(lanczos(op, 3, seed=5).eigenvalues, lanczos(op, 3, seed=5).eigenvalues)
    with pytest.raises(InvalidInputError):
        lanczos(op, 0)
    with pytest.raises(InvalidInputError):
        lanczos(op, 3, tol=0.0)
    with pytest.raises(InvalidInputError):
        lanczos(op, 3, max_iter=401)
    with pytest.raises(ConfigError, match="magnitude"):
        lanczos(op, 3, which="largest")


def test_ritz_pairs_of_every_column_against_eigvalsh():
    # three independent recurrences at once: after m steps each column's Ritz values are the eigenvalues
    # of its projection QᵀAQ and its residual norms the true ‖Ay − θy‖; after D steps, the spectrum of A
    spectrum = torch.linspace(-3.0, 5.0, 12, dtype=torch.float64)
    matrix = spectrum_matrix(spectrum, seed=2)
    gen = torch.Generator().manual_seed(3)
    process = LanczosProcess(DenseOperator(matrix), torch.randn(12, 3, generator=gen, dtype=torch.float64), 12, gen)
    for _ in range(5):
        process.step()
    values, s, residuals = process.ritz_pairs()
    assert values.shape == (3, 5) and s.shape == (3, 5, 5) and residuals.shape == (3, 5)
    for c in range(3):
        q = process.basis[:5, :, c].T  # (D, m)
        assert torch.allclose(values[c], torch.linalg.eigvalsh(q.T @ matrix @ q), atol=1e-12, rtol=0)
        y = q @ s[c]
        assert torch.allclose(residuals[c], (matrix @ y - y * values[c]).norm(dim=0), atol=1e-10, rtol=0)
        assert all(torch.equal(u, v) for u, v in zip(process.ritz(c), (values[c], s[c], residuals[c])))
    while process.steps < 12:
        process.step()
    values, _, _ = process.ritz_pairs()
    assert torch.allclose(values, torch.linalg.eigvalsh(matrix).expand(3, -1), atol=1e-10, rtol=0)


def test_ritz_converged_takes_the_larger_of_relative_and_absolute_tolerance():
    values = torch.tensor([[10.0, -2.0, 0.0]])
    residuals = torch.tensor([[0.5, 0.5, 0.5]])
    assert ritz_converged(values, residuals, tol=0.1).tolist() == [[True, False, False]]
    assert ritz_converged(values, residuals, tol=0.1, atol=0.5).tolist() == [[True, True, True]]
    per_column = torch.tensor([[0.4], [0.6]])  # one absolute tolerance per column
    both = ritz_converged(values.expand(2, -1), residuals.expand(2, -1), tol=0.0, atol=per_column)
    assert both.tolist() == [[False] * 3, [True] * 3]
