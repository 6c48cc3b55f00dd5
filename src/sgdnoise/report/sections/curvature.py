"""Section of the curvature and noise geometry of a model (a study analysis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number


@section_builder("curvature")
def curvature_section(result: Any, folder: Path) -> Section:
    c, s = result.config, result.summary
    a, o, m = s.anisotropy, s.outliers, s.strength
    lam = s.eigen.eigenvalues.tolist()
    eigen = pd.DataFrame(
        {
            "i": range(1, len(lam) + 1),
            "eigenvalue": lam,
            "residual": s.eigen.residuals.tolist(),
            "noise_along": s.eigen_noise.tolist(),
            "alignment": [n / (2 * s.loss * v) if v else float("nan") for n, v in zip(s.eigen_noise.tolist(), lam)],
        }
    )
    geometry = pd.DataFrame(
        [
            ("Tr H (Hutch++)", s.trace.estimate, s.trace.stderr),
            ("Tr(HΣ)", a.trace_h_sigma, a.trace_h_sigma_stderr),
            ("isotropic Tr H·TrΣ/D", a.isotropic, a.isotropic_stderr),
            ("anisotropy ratio (Zhu)", a.ratio, a.ratio_stderr),
            ("outliers n", float(o.n), float("nan")),
            ("outlier scale h*", o.h_star, float("nan")),
            ("noise strength / loss", m.ratio, float("nan")),
        ],
        columns=["quantity", "value", "stderr"],
    )
    reading = [
        f"The sharpest direction has λ_max = {number(lam[0])} (residual {s.eigen.residuals[0]:.1e}); Tr H = "
        f"{number(s.trace.estimate)} ± {number(s.trace.stderr, 2)}, so the top eigenvalue carries "
        f"{number(100 * lam[0] / s.trace.estimate, 2)}% of the trace.",
        f"Tr(HΣ) is {number(a.ratio)}× its value for isotropic noise of the same total variance: "
        + (
            "the noise is aligned with the sharp directions (Zhu et al.'s escape indicator)."
            if a.ratio > 1
            else "the noise is not concentrated on the sharp directions."
        ),
        f"{o.n} outlier eigenvalue(s) stand out of the bulk (h* = {number(o.h_star)}).",
    ]
    return Section(
        key="curvature",
        title="Curvature and noise geometry (Zhu et al. 2019, Wang & Wu 2023)",
        text=(
            f"On {s.n_samples} random training points (D = {s.dim} parameters, loss {number(s.loss)}), model in eval "
            f"mode: the top {len(lam)} Hessian eigenvalues by Lanczos (relative residual ≤ {c.tol}), Tr H by Hutch++ "
            f"({c.trace_products} products), the noise covariance Σ of SGD at B = {c.batch_size} and its alignment "
            "with H.",
        ),
        reading=tuple(reading),
        tables=(
            Table("eigenvalues", "Top Hessian eigenvalues and the noise variance along their eigenvectors", eigen),
            Table("geometry", "Trace, outliers and noise geometry", geometry),
        ),
        figures=(
            Figure(folder / "spectral_density.png", "Hessian spectral density (SLQ), top eigenvalues marked"),
            Figure(folder / "alignment.png", "Noise variance along each top eigenvector against 2L·λ"),
        ),
    )
