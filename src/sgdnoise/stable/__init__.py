"""α-stable maths, symmetric (SαS) and general: sampling, densities, estimators, goodness of fit.

Knows nothing of neural networks: arrays in, arrays out, vectorised over a leading
"many parameters" axis. NumPy arrays and torch tensors are both accepted and the result has
the caller's kind, dtype and device.

Symmetric convention: ``E exp(iuX) = exp(iu·loc − scale^α |u|^α)`` (``scipy.stats.levy_stable``
with β = 0); α = 2 is the Gaussian with variance ``2·scale²``. The general law S(α, β, σ, μ) is
in Nolan's S0 parameterisation (:mod:`sgdnoise.stable.s0`), which is the symmetric one at β = 0.

- sampling: :func:`sample_sas`, :func:`sample_stable`, :func:`levy_increments`
- densities: :func:`sas_pdf`, :func:`sas_logpdf`, :func:`sas_cdf`, :func:`stable_pdf`,
  :func:`stable_logpdf`, :func:`stable_cdf` (α ∈ [0.5, 2]); :func:`stable_cf`
- parameterisations: :func:`s0_to_s1`, :func:`s1_to_s0`
- fits: :func:`fit_sas` (methods ``cf``, ``quantile``, ``tail``, ``mle``), :func:`fit_stable`
  (``cf``, ``quantile``, ``mle``), :func:`fit_gaussian`
- goodness of fit: :func:`compare_fits`, :func:`summarize_fits` (Gaussian vs SαS)
- competing laws: :func:`fit_student_t`, :func:`fit_gaussian_mixture`; entry classes
  :func:`classify_entries`; which law per row :func:`compare_laws`, :func:`summarize_laws`
"""

from sgdnoise.stable.classes import CLASSES, classify_entries
from sgdnoise.stable.density import sas_cdf, sas_logpdf, sas_pdf
from sgdnoise.stable.fit import METHODS, GaussianFit, SaSFit, fit_gaussian, fit_sas
from sgdnoise.stable.goodness import compare_fits, summarize_fits
from sgdnoise.stable.laws import LAWS, compare_laws, law_wins_by, summarize_laws
from sgdnoise.stable.mixture import MixtureFit, fit_gaussian_mixture
from sgdnoise.stable.s0 import s0_to_s1, s1_to_s0, stable_cf
from sgdnoise.stable.sampling import levy_increments, sample_sas, sample_stable
from sgdnoise.stable.skew_density import stable_cdf, stable_logpdf, stable_pdf
from sgdnoise.stable.skew_fit import STABLE_METHODS, StableFit, fit_stable
from sgdnoise.stable.student_t import StudentTFit, fit_student_t

__all__ = [
    "CLASSES",
    "LAWS",
    "METHODS",
    "STABLE_METHODS",
    "GaussianFit",
    "MixtureFit",
    "SaSFit",
    "StableFit",
    "StudentTFit",
    "classify_entries",
    "compare_fits",
    "compare_laws",
    "fit_gaussian",
    "fit_gaussian_mixture",
    "fit_sas",
    "fit_stable",
    "fit_student_t",
    "law_wins_by",
    "levy_increments",
    "s0_to_s1",
    "s1_to_s0",
    "sample_sas",
    "sample_stable",
    "sas_cdf",
    "sas_logpdf",
    "sas_pdf",
    "stable_cdf",
    "stable_cf",
    "stable_logpdf",
    "stable_pdf",
    "summarize_fits",
    "summarize_laws",
]
