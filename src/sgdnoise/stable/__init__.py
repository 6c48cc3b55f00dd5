"""Symmetric alpha-stable (SαS) maths: sampling, densities, estimators, goodness of fit.

Knows nothing of neural networks: arrays in, arrays out, vectorised over a leading
"many parameters" axis. NumPy arrays and torch tensors are both accepted and the result has
the caller's kind, dtype and device.

Convention everywhere: ``E exp(iuX) = exp(iu·loc − scale^α |u|^α)`` (``scipy.stats.levy_stable``
with β = 0); α = 2 is the Gaussian with variance ``2·scale²``.

- sampling: :func:`sample_sas`, :func:`levy_increments`
- densities: :func:`sas_pdf`, :func:`sas_logpdf`, :func:`sas_cdf` (α ∈ [0.5, 2])
- fits: :func:`fit_sas` (methods ``cf``, ``quantile``, ``tail``, ``mle``), :func:`fit_gaussian`
- goodness of fit: :func:`compare_fits`, :func:`summarize_fits`
"""

from sgdnoise.stable.density import sas_cdf, sas_logpdf, sas_pdf
from sgdnoise.stable.fit import METHODS, GaussianFit, SaSFit, fit_gaussian, fit_sas
from sgdnoise.stable.goodness import compare_fits, summarize_fits
from sgdnoise.stable.s0 import s0_to_s1, s1_to_s0, stable_cf
from sgdnoise.stable.sampling import levy_increments, sample_sas, sample_stable

__all__ = [
    "METHODS",
    "GaussianFit",
    "SaSFit",
    "compare_fits",
    "fit_gaussian",
    "fit_sas",
    "levy_increments",
    "s0_to_s1",
    "s1_to_s0",
    "sample_sas",
    "sample_stable",
    "sas_cdf",
    "sas_logpdf",
    "sas_pdf",
    "stable_cf",
    "summarize_fits",
]
