"""Maximum-likelihood SαS fits, batched over rows, on the tabulated log-density.

Each row's mean negative log-likelihood ``ℓ(α, log scale, loc) = −(1/K) Σ_j log f(x_j)``
(:func:`sgdnoise.stable.density.sas_logpdf`) is minimised by damped Newton steps: gradient and
Hessian by finite differences on a 10-point stencil (central differences for the gradient and
the diagonal, forward mixed differences off the diagonal), a Newton step where the Hessian is
positive definite and a scaled gradient step where it is not, capped per coordinate, then the
best of the full, half and quarter step (or no step) is kept — so ℓ never increases. From the
``cf`` start two iterations usually converge; iterations stop once no row gains more than 1e-10. All rows
move at once: every iteration is a handful of batched density evaluations. α stays in
[0.5, 2]; near α = 2 the stencil is shifted inside the range.
"""

from __future__ import annotations

import torch

from sgdnoise.stable.density import sas_logpdf

STEP = (0.01, 0.01, 0.01)  # finite-difference steps in (α, log scale, loc/scale0)
MAX_MOVE = (0.25, 0.3, 0.3)  # largest change per iteration in the same coordinates
ITERATIONS = 6
TOLERANCE = 1e-10  # stop once no row's mean negative log-likelihood drops by more than this


def _stencil(h: torch.Tensor) -> torch.Tensor:
    """Offsets of the 10 stencil points in θ-space, shape (10, 3): 0, ±h_i, h_i + h_j (i < j)."""
    eye = torch.diag(h)
    pairs = torch.stack([eye[0] + eye[1], eye[0] + eye[2], eye[1] + eye[2]])
    return torch.cat([torch.zeros(1, 3, dtype=h.dtype, device=h.device), eye, -eye, pairs])


def _nll(x: torch.Tensor, theta: torch.Tensor, loc0: torch.Tensor, scale0: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of rows ``x`` (P, K) at candidates ``theta`` (P, C, 3); shape (P, C)."""
    alpha = theta[..., 0:1]
    scale = torch.exp(theta[..., 1:2])
    loc = loc0[:, None, None] + scale0[:, None, None] * theta[..., 2:3]
    return -sas_logpdf(x[:, None, :], alpha, scale, loc).mean(-1)


def fit_mle(
    x: torch.Tensor, alpha0: torch.Tensor, scale0: torch.Tensor, loc0: torch.Tensor, iterations: int = ITERATIONS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Refine starting values (each (P,)) to the MLE of each row of ``x`` (P, K).

    Returns ``(alpha, scale, loc, nll)`` with ``nll`` the mean negative log-likelihood per row.
    """
    opts = dict(dtype=x.dtype, device=x.device)
    h = torch.tensor(STEP, **opts)
    cap = torch.tensor(MAX_MOVE, **opts)
    offsets = _stencil(h)
    theta = torch.stack([alpha0.clamp(0.5, 2.0), torch.log(scale0), torch.zeros_like(alpha0)], dim=1)
    best = _nll(x, theta[:, None], loc0, scale0)[:, 0]
    for _ in range(iterations):
        centre = theta.clone()
        centre[:, 0] = centre[:, 0].clamp(0.5 + h[0], 2.0 - h[0])
        f = _nll(x, centre[:, None] + offsets, loc0, scale0)
        f0, f_plus, f_minus, f_pair = f[:, 0], f[:, 1:4], f[:, 4:7], f[:, 7:10]
        grad = (f_plus - f_minus) / (2 * h)
        hess = torch.diag_embed((f_plus - 2 * f0[:, None] + f_minus) / h**2)
        for n, (i, j) in enumerate(((0, 1), (0, 2), (1, 2))):
            hess[:, i, j] = hess[:, j, i] = (f_pair[:, n] - f_plus[:, i] - f_plus[:, j] + f0) / (h[i] * h[j])
        chol, info = torch.linalg.cholesky_ex(hess)
        newton = -torch.cholesky_solve(grad[:, :, None], chol)[:, :, 0]
        gradient = -grad / torch.diagonal(hess, dim1=1, dim2=2).abs().clamp_min(1.0)
        step = torch.where((info == 0)[:, None], newton, gradient)
        step = step * (cap / step.abs().clamp_min(1e-30)).clamp(max=1.0)
        trials = centre[:, None] + torch.tensor([1.0, 0.5, 0.25], **opts)[None, :, None] * step[:, None]
        trials[..., 0] = trials[..., 0].clamp(0.5, 2.0)
        f_trials = _nll(x, trials, loc0, scale0)
        f_min, arg = f_trials.min(1)
        better = f_min < best
        theta = torch.where(better[:, None], trials[torch.arange(len(arg)), arg], theta)
        gain = (best - f_min).max().item()
        best = torch.minimum(best, f_min)
        if gain < TOLERANCE:
            break
    return theta[:, 0], torch.exp(theta[:, 1]), loc0 + scale0 * theta[:, 2], best
