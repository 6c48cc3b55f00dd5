import pytest
import torch

from sgdnoise.curvature.algorithms import power_iteration
from sgdnoise.curvature.operators import DenseOperator
from sgdnoise.errors import ConvergenceError

from ..conftest import spectrum_matrix

SPECTRUM = torch.cat(
    [torch.tensor([10.0, -7.0, 5.0, 3.0], dtype=torch.float64), torch.linspace(-1, 1, 60, dtype=torch.float64)]
)
MATRIX = spectrum_matrix(SPECTRUM, seed=2)


def test_largest_magnitude_eigenpairs_with_true_residuals():
    result = power_iteration(DenseOperator(MATRIX), 3, tol=1e-7)
    assert torch.allclose(result.eigenvalues, torch.tensor([10.0, -7.0, 5.0], dtype=torch.float64), rtol=1e-7)
    true_res = (MATRIX @ result.eigenvectors - result.eigenvectors * result.eigenvalues).norm(dim=0)
    assert torch.allclose(true_res, result.residuals, atol=1e-12)
    assert result.all_converged


def test_slow_convergence_raises_or_flags():
    op = DenseOperator(MATRIX)
    with pytest.raises(ConvergenceError):
        power_iteration(op, 2, tol=1e-12, max_iter=5)
    assert not power_iteration(op, 2, tol=1e-12, max_iter=5, strict=False).all_converged
