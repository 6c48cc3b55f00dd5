"""Terminal tables of a curvature summary: every eigenvalue and quantity, formatted from the summary's numbers."""

import pytest
import torch
from rich.console import Console
from torch import nn
from torch.nn import functional as F

from sgdnoise.curvature.summary import curvature_summary
from sgdnoise.report.curvature import eigenvalue_table, geometry_table


@pytest.fixture(scope="module")
def summary():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    g = torch.Generator().manual_seed(1)
    data = torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (30,), generator=g)
    return curvature_summary(model, F.cross_entropy, data, k=3, batch_size=4, n_products=12, density_iter=10)


def _text(table) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_eigenvalue_table_has_one_row_per_eigenvalue_with_its_alignment(summary):
    text = _text(eigenvalue_table(summary, "toy on noise"))
    assert f"toy on noise: top-3 Hessian eigenvalues (D = {summary.dim}, N = 30" in text
    for lam, noise in zip(summary.eigen.eigenvalues.tolist(), summary.eigen_noise.tolist()):
        ratio = noise / (2 * summary.loss * lam)  # Wang & Wu's g(θ, v_i) with vᵀGv ≈ λ_i
        assert f"{lam:.5g}" in text and f"{noise:.4g}" in text and f"{ratio:.3g}" in text


def test_geometry_table_lists_every_quantity(summary):
    text = _text(geometry_table(summary))
    for label in ("Tr H (Hutch++)", "outliers n, h*", "Tr(HΣ), B = 4", "anisotropy ratio (Zhu)", "B_noise", "Mori"):
        assert label in text
    assert f"{summary.trace.estimate:.5g} ± {summary.trace.stderr:.2g}" in text
    assert f"{summary.anisotropy.ratio:.4g}" in text
