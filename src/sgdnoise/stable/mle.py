"""Maximum-likelihood stable fits, batched over rows, on the tabulated log-densities.

Each row's mean negative log-likelihood ``ℓ(θ) = −(1/K) Σ_j log f(x_j; θ)`` is minimised by
damped Newton steps (:func:`newton_minimize`): gradient and Hessian by finite differences on a
``1 + 2d + d(d−1)/2``-point stencil (central differences for the gradient and the diagonal,
forward mixed differences off the diagonal), a Newton step where the Hessian is positive
definite and a scaled gradient step where it is not, capped per coordinate, then the best of
the full, half and quarter step (or no step) is kept — so ℓ never increases. All rows move at
once: every iteration is a handful of batched density evaluations. From the ``cf`` start two or
three iterations usually converge; iterations stop once no row gains more than 1e-10. Bounded
coordinates stay in their range; near a bound the stencil is shifted inside it.

- :func:`fit_mle`: SαS, θ = (α, log scale, (loc − loc₀)/scale₀), density
  :func:`sgdnoise.stable.density.sas_logpdf`;
- :func:`fit_stable_mle`: S(α, β, σ, μ; 0), θ = (α, β, log σ, (μ − μ₀)/σ₀), density
  :func:`sgdnoise.stable.skew_density.stable_logpdf`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from sgdnoise.stable.density import sas_logpdf
from sgdnoise.stable.skew_density import stable_logpdf

STEP = (0.01, 0.01, 0.01)  # finite-difference steps in (α, log scale, loc/scale0)
MAX_MOVE = (0.25, 0.3, 0.3)  # largest change per iteration in the same coordinates
STABLE_STEP = (0.01, 0.01, 0.01, 0.01)  # (α, β, log σ, μ/σ0)
STABLE_MAX_MOVE = (0.25, 0.25, 0.3, 0.3)
ITERATIONS = 6
TOLERANCE = 1e-10  # stop once no row's mean negative log-likelihood drops by more than this
INF = float("inf")


def _stencil(h: torch.Tensor) -> torch.Tensor:
    """Offsets of the stencil points in θ-space, shape (1 + 2d + d(d−1)/2, d): 0, +h_i, −h_i,
    h_i + h_j (i < j, in lexicographic order)."""
    eye = torch.diag(h)
    d = len(h)
    pairs = [eye[i] + eye[j] for i in range(d) for j in range(i + 1, d)]
    return torch.cat([torch.zeros(1, d, dtype=h.dtype, device=h.device), eye, -eye, torch.stack(pairs)])


def newton_minimize(
    objective: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    step: Sequence[float],
    max_move: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    iterations: int = ITERATIONS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise per-row objectives from ``theta`` (P, d) within ``[lower, upper]`` (module docstring).

    ``objective`` maps candidates (P, C, d) to values (P, C). Returns the best θ (P, d) and its value (P,).
    """
    opts = dict(dtype=theta.dtype, device=theta.device)
    h, cap = torch.tensor(step, **opts), torch.tensor(max_move, **opts)
    lo, hi = torch.tensor(lower, **opts), torch.tensor(upper, **opts)
    d = len(step)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    offsets = _stencil(h)
    best = objective(theta[:, None])[:, 0]
    for _ in range(iterations):
        centre = torch.maximum(torch.minimum(theta, hi - h), lo + h)
        f = objective(centre[:, None] + offsets)
        f0, f_plus, f_minus, f_pair = f[:, 0], f[:, 1 : d + 1], f[:, d + 1 : 2 * d + 1], f[:, 2 * d + 1 :]
        grad = (f_plus - f_minus) / (2 * h)
        hess = torch.diag_embed((f_plus - 2 * f0[:, None] + f_minus) / h**2)
        for n, (i, j) in enumerate(pairs):
            hess[:, i, j] = hess[:, j, i] = (f_pair[:, n] - f_plus[:, i] - f_plus[:, j] + f0) / (h[i] * h[j])
        chol, info = torch.linalg.cholesky_ex(hess)
        newton = -torch.cholesky_solve(grad[:, :, None], chol)[:, :, 0]
        gradient = -grad / torch.diagonal(hess, dim1=1, dim2=2).abs().clamp_min(1.0)
        move = torch.where((info == 0)[:, None], newton, gradient)
        move = move * (cap / move.abs().clamp_min(1e-30)).clamp(max=1.0)
        trials = centre[:, None] + torch.tensor([1.0, 0.5, 0.25], **opts)[None, :, None] * move[:, None]
        trials = torch.maximum(torch.minimum(trials, hi), lo)
        f_trials = objective(trials)
        f_min, arg = f_trials.min(1)
        better = f_min < best
        theta = torch.where(better[:, None], trials[torch.arange(len(arg)), arg], theta)
        gain = (best - f_min).max().item()
        best = torch.minimum(best, f_min)
        if gain < TOLERANCE:
            break
    return theta, best


def fit_mle(
    x: torch.Tensor, alpha0: torch.Tensor, scale0: torch.Tensor, loc0: torch.Tensor, iterations: int = ITERATIONS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Refine SαS starting values (each (P,)) to the MLE of each row of ``x`` (P, K).

    Returns ``(alpha, scale, loc, nll)`` with ``nll`` the mean negative log-likelihood per row.
    """

    def nll(theta: torch.Tensor) -> torch.Tensor:
        loc = loc0[:, None, None] + scale0[:, None, None] * theta[..., 2:3]
        return -sas_logpdf(x[:, None, :], theta[..., 0:1], torch.exp(theta[..., 1:2]), loc).mean(-1)

    theta = torch.stack([alpha0.clamp(0.5, 2.0), torch.log(scale0), torch.zeros_like(alpha0)], dim=1)
    theta, best = newton_minimize(nll, theta, STEP, MAX_MOVE, (0.5, -INF, -INF), (2.0, INF, INF), iterations)
    return theta[:, 0], torch.exp(theta[:, 1]), loc0 + scale0 * theta[:, 2], best


def fit_stable_mle(
    x: torch.Tensor,
    alpha0: torch.Tensor,
    beta0: torch.Tensor,
    scale0: torch.Tensor,
    loc0: torch.Tensor,
    iterations: int = ITERATIONS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Refine S0 starting values (each (P,)) to the MLE of each row of ``x`` (P, K).

    Returns ``(alpha, beta, scale, loc, nll)``; α ∈ [0.5, 2], β ∈ [−1, 1].
    """

    def nll(theta: torch.Tensor) -> torch.Tensor:
        loc = loc0[:, None, None] + scale0[:, None, None] * theta[..., 3:4]
        return -stable_logpdf(x[:, None, :], theta[..., 0:1], theta[..., 1:2], torch.exp(theta[..., 2:3]), loc).mean(-1)

    theta = torch.stack(
        [alpha0.clamp(0.5, 2.0), beta0.clamp(-1.0, 1.0), torch.log(scale0), torch.zeros_like(alpha0)], dim=1
    )
    bounds = (0.5, -1.0, -INF, -INF), (2.0, 1.0, INF, INF)
    theta, best = newton_minimize(nll, theta, STABLE_STEP, STABLE_MAX_MOVE, *bounds, iterations)
    return theta[:, 0], theta[:, 1], torch.exp(theta[:, 2]), loc0 + scale0 * theta[:, 3], best
