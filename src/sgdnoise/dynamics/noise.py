"""Driving noises of the Euler scheme, per path and per step, drawn in blocks of K steps.

Each source holds per-path tensors (first axis = paths still running) and draws the increments
``(K, A, d)`` of K steps for the A running paths, already multiplied by ``ε · scale`` and by the
scheduler factor ``s_t^{e}``:

* :class:`LevyNoise` — one standard SαS Lévy process per coordinate (``E e^{iuL_1} =
  exp(−|u|^α)``), increment ``ε scale_l s_t^{(α_l−1)/α_l} dt^{1/α_l} S_{α_l}`` (Battash et al.
  eq. 3 with ``scale_l = 1ᵀλ_l``). α = 2 is Brownian motion *with variance 2dt*.
* :class:`GaussianNoise` — standard Brownian motion (variance dt): ``ε scale_l s_t^{1/2} √dt Z``.
  Langevin dynamics at temperature D is ``ε = √(2D)``.
* :class:`CovarianceNoise` — ``ε s_t^{1/2} √dt Σ^{1/2} Z`` (symmetric square root).
"""

from __future__ import annotations

import copy

import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable.sampling import standard_sas


class NoiseSource:
    """Per-path noise parameters: ``amp`` (A, d) and ``exponent`` (A, d) of the scheduler factor."""

    per_path: tuple[str, ...] = ("amp", "exponent")

    def __init__(self, amp: torch.Tensor, exponent: torch.Tensor):
        self.amp, self.exponent = amp, exponent

    def take(self, keep: torch.Tensor) -> "NoiseSource":
        """The same source restricted to the paths where ``keep`` (A,) is true."""
        new = copy.copy(self)
        for name in self.per_path:
            setattr(new, name, getattr(self, name)[keep])
        return new

    def _standard(self, k: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def draw(self, k: int, schedule_values: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Increments of the next ``k`` steps, shape (k, A, d); ``schedule_values`` is ``s_t`` (k,) or None."""
        z = self._standard(k, generator)
        if schedule_values is not None:
            z.mul_(schedule_values[:, None, None].pow(self.exponent))
        return z.mul_(self.amp)


class LevyNoise(NoiseSource):
    per_path = ("amp", "exponent", "alpha")

    def __init__(self, alpha: torch.Tensor, eps: torch.Tensor, scale: torch.Tensor, dt: float):
        self.alpha = alpha
        super().__init__(eps * scale * dt ** (1.0 / alpha), (alpha - 1.0) / alpha)

    def _standard(self, k, generator):
        return standard_sas(self.alpha, (k, *self.alpha.shape), generator)


class GaussianNoise(NoiseSource):
    def __init__(self, eps: torch.Tensor, scale: torch.Tensor, dt: float):
        amp = eps * scale * dt**0.5
        super().__init__(amp, torch.full_like(amp, 0.5))

    def _standard(self, k, generator):
        return torch.randn((k, *self.amp.shape), generator=generator, dtype=self.amp.dtype, device=self.amp.device)


class CovarianceNoise(GaussianNoise):
    def __init__(self, covariance: torch.Tensor, eps: torch.Tensor, scale: torch.Tensor, dt: float):
        super().__init__(eps, scale, dt)
        self.root_t = covariance_sqrt(covariance).T

    def _standard(self, k, generator):
        return super()._standard(k, generator) @ self.root_t


def covariance_sqrt(covariance: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a positive semi-definite (d, d) matrix (eigenvalues ≥ −1e-10·max clipped to 0)."""
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1] or not torch.all(torch.isfinite(covariance)):
        raise InvalidInputError(f"a noise covariance must be a finite (d, d) matrix; got shape {tuple(covariance.shape)}")
    if not torch.allclose(covariance, covariance.T, rtol=1e-8, atol=1e-12):
        raise InvalidInputError("the noise covariance must be symmetric")
    evals, evecs = torch.linalg.eigh(covariance)
    if evals.min() < -1e-10 * max(evals.abs().max().item(), 1e-300):
        raise InvalidInputError(f"the noise covariance must be positive semi-definite; smallest eigenvalue {evals.min().item():.3g}")
    return (evecs * evals.clamp(min=0).sqrt()) @ evecs.T
