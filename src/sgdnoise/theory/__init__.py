"""Closed-form predictions of the papers: pure functions, no neural networks.

Scalars, NumPy arrays and torch tensors in (broadcast together), the caller's kind out. Each
function cites the equation it implements; conventions are stated where a paper is ambiguous.

* Lévy small-noise exit (Imkeller–Pavlyukevich): :func:`levy_mean_exit_time`,
  :func:`levy_exit_probabilities`, :func:`levy_exit_rates`, :func:`levy_measure_constant`.
* Battash et al. (2024) §3.2/§4: jump intensity (eq. 12), first-jump exit (eq. 13), mean exit
  time bound (Thm 4.1, Cor. 4.2), exit-direction ratio (Cor. 4.4), survival bound (Thm 4.5,
  Cor. 4.6); exit rates and Thm 4.3 (eq. 18–19) per parameter, eq. 17
  (:mod:`~sgdnoise.theory.battash_exit`); ε, T_R (eq. 14), E S (eq. 15), Lemma 3.1 and Prop. 3.4's
  covariance row sums (:mod:`~sgdnoise.theory.battash_scales`).
* Gaussian noise: Kramers / Xie et al. (2021); Mori et al. (2022) log-loss barrier.
* Fitting the theories to measured escape times: :func:`compare_escape_fits`.
"""

from sgdnoise.theory.battash import (
    battash_exit_direction_ratio,
    battash_first_jump_exit_probability,
    battash_jump_intensity,
    battash_mean_exit_time_bound,
    battash_survival_bound,
)
from sgdnoise.theory.battash_exit import (
    battash_exit_probabilities,
    battash_exit_probability_bound,
    battash_exit_rates,
    battash_mean_exit_time_lr,
)
from sgdnoise.theory.battash_scales import (
    battash_convergence_bound,
    battash_covariance_row_sums,
    battash_epsilon,
    battash_relaxation_time,
    battash_second_moment,
    battash_time_between_large_jumps,
)
from sgdnoise.theory.fitting import (
    ESCAPE_MODELS,
    EscapeFit,
    EscapeFitComparison,
    EscapeModel,
    alpha_consistency,
    compare_escape_fits,
    fit_escape_across_minima,
    fit_escape_time,
    fit_levy_fixed_alpha,
)
from sgdnoise.theory.kramers import kramers_escape_time, xie_sgd_escape_time
from sgdnoise.theory.levy_exit import (
    levy_exit_probabilities,
    levy_exit_rates,
    levy_mean_exit_time,
    levy_measure_constant,
)
from sgdnoise.theory.mori import mori_escape_rate, mori_stationary_exponent, mori_stationary_normalisable

__all__ = [
    "ESCAPE_MODELS",
    "EscapeFit",
    "EscapeFitComparison",
    "EscapeModel",
    "alpha_consistency",
    "battash_convergence_bound",
    "battash_covariance_row_sums",
    "battash_epsilon",
    "battash_exit_direction_ratio",
    "battash_exit_probabilities",
    "battash_exit_probability_bound",
    "battash_exit_rates",
    "battash_first_jump_exit_probability",
    "battash_jump_intensity",
    "battash_mean_exit_time_bound",
    "battash_mean_exit_time_lr",
    "battash_relaxation_time",
    "battash_second_moment",
    "battash_survival_bound",
    "battash_time_between_large_jumps",
    "compare_escape_fits",
    "fit_escape_across_minima",
    "fit_escape_time",
    "fit_levy_fixed_alpha",
    "kramers_escape_time",
    "levy_exit_probabilities",
    "levy_exit_rates",
    "levy_mean_exit_time",
    "levy_measure_constant",
    "mori_escape_rate",
    "mori_stationary_exponent",
    "mori_stationary_normalisable",
    "xie_sgd_escape_time",
]
