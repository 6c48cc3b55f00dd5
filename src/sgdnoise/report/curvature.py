"""Terminal tables of a curvature summary (:class:`sgdnoise.curvature.summary.CurvatureSummary`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from sgdnoise.curvature.summary import CurvatureSummary


def eigenvalue_table(summary: CurvatureSummary, subject: str) -> Table:
    """One row per top Hessian eigenvalue ``λ_i``: its residual, the noise variance ``v_iᵀΣ₁v_i``
    along its eigenvector and that variance over ``2L·λ_i`` (Wang & Wu's directional alignment
    when the Gauss–Newton part dominates the Hessian). ``subject`` opens the title."""
    s = summary
    table = Table(
        title=f"{subject}: top-{len(s.eigen.eigenvalues)} Hessian eigenvalues (D = {s.dim}, "
        f"N = {s.n_samples}, L = {s.loss:.4g})"
    )
    for column in ("i", "λ_i", "residual", "v_iᵀΣ₁v_i", "v_iᵀΣ₁v_i / (2L·λ_i)"):
        table.add_column(column, justify="right")
    rows = zip(s.eigen.eigenvalues.tolist(), s.eigen.residuals.tolist(), s.eigen_noise.tolist())
    for i, (lam, residual, noise) in enumerate(rows, 1):
        table.add_row(str(i), f"{lam:.5g}", f"{residual:.1e}", f"{noise:.4g}", f"{noise / (2 * s.loss * lam):.3g}")
    return table


def geometry_table(summary: CurvatureSummary) -> Table:
    """The trace, the outliers and the noise geometry, one quantity per row."""
    s = summary
    a, g, o, m = s.anisotropy, s.noise_scale, s.outliers, s.strength
    table = Table(show_header=False, title="trace, outliers and noise geometry")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for name, value in [
        ("Tr H (Hutch++)", f"{s.trace.estimate:.5g} ± {s.trace.stderr:.2g}"),
        (
            f"outliers n, h* (gap ≥ {o.min_gap:g})",
            f"{o.n}, {o.h_star:.4g}" + (" (gap at edge: raise k)" if o.at_edge else ""),
        ),
        (f"Tr(HΣ), B = {s.batch_size}", f"{a.trace_h_sigma:.4g} ± {a.trace_h_sigma_stderr:.2g}"),
        ("isotropic Tr H·TrΣ/D", f"{a.isotropic:.4g} ± {a.isotropic_stderr:.2g}"),
        ("anisotropy ratio (Zhu)", f"{a.ratio:.4g} ± {a.ratio_stderr:.2g}"),
        ("B_simple = TrΣ₁/‖G‖²", f"{g.b_simple:.4g}"),
        ("B_noise = Tr(HΣ₁)/GᵀHG", f"{g.b_noise:.4g} ± {g.b_noise_stderr:.2g}"),
        ("noise strength 𝒩, 𝒩/L", f"{m.strength:.4g}, {m.ratio:.4g}"),
        ("𝒩/(2L·Tr H) (Mori: ≈ 1)", f"{m.mori_ratio:.4g}" if m.mori_ratio is not None else "n/a"),
    ]:
        table.add_row(name, value)
    return table
