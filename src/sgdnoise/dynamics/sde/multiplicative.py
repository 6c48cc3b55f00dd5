"""SGD's multiplicative noise near a minimum of a mean-square loss (Mori et al. 2022, papers.md §7).

In 1-D with ``L(x) = L* + h x²/2``, the noise covariance is ``Σ(x) ≈ 2L(x)h/B`` and the SDE of
SGD with learning rate η is ``dx = −h x dt + √(2ηhL(x)/B) dW``. Its stationary law is
``p ∝ L^{−φ}`` with ``φ = 1 + B/(ηh)``: a power law in x (tail ``|x|^{−2φ}``), not a Gaussian.
"""

from __future__ import annotations

import math

import torch

from sgdnoise.plumbing import positive_number
from sgdnoise.rng import Seed, as_generator


def stationary_samples(
    *,
    curvature: float,
    loss_min: float,
    lr: float,
    batch_size: int,
    n_paths: int = 20000,
    time: float = 30.0,
    dt: float = 0.005,
    seed: Seed = 0,
) -> torch.Tensor:
    """End points ``x(time)`` of ``n_paths`` Euler–Maruyama paths of the SDE above, started at 0; (n_paths,) float64.

    ``time`` should be many relaxation times ``1/h``; ``dt·h`` small.
    """
    for name, value in (
        ("curvature", curvature),
        ("loss_min", loss_min),
        ("lr", lr),
        ("batch_size", batch_size),
        ("time", time),
        ("dt", dt),
    ):
        positive_number(value, name)
    gen = as_generator(seed)
    x = torch.zeros(n_paths, dtype=torch.float64)
    noise_scale = math.sqrt(2 * lr * curvature * dt / batch_size)
    for _ in range(round(time / dt)):
        loss = loss_min + 0.5 * curvature * x * x
        x = (
            x
            - curvature * x * dt
            + noise_scale * loss.sqrt() * torch.randn(n_paths, generator=gen, dtype=torch.float64)
        )
    return x
