"""Driving noises of the Euler scheme, per path and per step, drawn in blocks of K steps.

Each source holds per-path tensors (first axis = paths still running) and draws the increments
``(K, A, d)`` of K steps for the A running paths, already multiplied by ``ε · scale`` and by the
scheduler factor ``s_t^{e}``:

* :class:`LevyNoise` — one standard SαS Lévy process per coordinate (``E e^{iuL_1} =
  exp(−|u|^α)``), increment ``ε scale_l s_t^{(α_l−1)/α_l} dt^{1/α_l} S_{α_l}`` (Battash et al.
  eq. 3 with ``scale_l = 1ᵀλ_l``). α = 2 is Brownian motion *with variance 2dt*.
* :class:`GaussianNoise` — standard Brownian motion (variance dt): ``ε scale_l s_t^{1/2} √dt Z``.
  Langevin dynamics at temperature D is ``ε = √(2D)``.
* :class:`CovarianceNoise` — ``ε s_t^{1/2} √dt Σ^{1/2} Z`` (symmetric square root, :func:`psd_sqrt`).

On the CPU the standard variates come from NumPy's PCG64 (:class:`NumpyDraws`, seeded once from the
torch generator), whose doubles and ziggurat exponentials/normals are cheaper than torch's mt19937
doubles; the Lévy increments are then Chambers–Mallows–Stuck in place
(:func:`sgdnoise.stable.sampling.cms_transform`). On other devices they are
:func:`sgdnoise.stable.sampling.standard_sas` and ``torch.randn``. Either way the same seed gives
the same increments.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable.sampling import cms_transform, standard_sas


class NumpyDraws:
    """Standard uniform, exponential and normal variates from NumPy's PCG64 as torch tensors (CPU).

    Seeded with 63 bits drawn from the torch generator when created (a source creates it on its
    first draw), so a torch seed fixes the stream; NumPy fills the tensor's memory in place.
    """

    def __init__(self, generator: torch.Generator):
        self.rng = np.random.Generator(np.random.PCG64(int(torch.randint(0, 2**63 - 1, (), generator=generator))))

    @staticmethod
    def _empty(shape: tuple[int, ...], dtype: torch.dtype) -> tuple[torch.Tensor, np.ndarray]:
        out = torch.empty(shape, dtype=dtype)
        return out, out.numpy()

    def uniform(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """U[0, 1) of ``shape``."""
        out, view = self._empty(shape, dtype)
        self.rng.random(out=view, dtype=view.dtype)
        return out

    def exponential(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """Exp(1) of ``shape`` (ziggurat)."""
        out, view = self._empty(shape, dtype)
        self.rng.standard_exponential(out=view, dtype=view.dtype)
        return out

    def normal(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """N(0, 1) of ``shape`` (ziggurat)."""
        out, view = self._empty(shape, dtype)
        self.rng.standard_normal(out=view, dtype=view.dtype)
        return out


def _shared_row(t: torch.Tensor) -> torch.Tensor | float:
    """``t`` (A, d) as a float if all its entries are equal, as its row (d,) if all rows are, else itself."""
    if bool((t == t.reshape(-1)[0]).all()):
        return float(t.reshape(-1)[0])
    return t[0] if bool((t == t[:1]).all()) else t


class NoiseSource:
    """Per-path noise parameters: ``amp`` (A, d) and ``exponent`` (A, d) of the scheduler factor."""

    per_path: tuple[str, ...] = ("amp", "exponent")

    def __init__(self, amp: torch.Tensor, exponent: torch.Tensor):
        self.amp, self.exponent = amp, exponent
        self._numpy: NumpyDraws | None = None

    def _draws(self, generator: torch.Generator) -> NumpyDraws | None:
        """The NumPy stream (created on the first call, shared by :meth:`take` copies), or None off
        the CPU or for dtypes other than float32/float64."""
        if self.amp.device.type != "cpu" or self.amp.dtype not in (torch.float32, torch.float64):
            return None
        if self._numpy is None:
            self._numpy = NumpyDraws(generator)
        return self._numpy

    def take(self, keep: torch.Tensor) -> NoiseSource:
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
        return z.mul_(_shared_row(self.amp))


class LevyNoise(NoiseSource):
    per_path = ("amp", "exponent", "alpha")

    def __init__(self, alpha: torch.Tensor, eps: torch.Tensor, scale: torch.Tensor, dt: float):
        self.alpha = alpha
        super().__init__(eps * scale * dt ** (1.0 / alpha), (alpha - 1.0) / alpha)

    def _standard(self, k, generator):
        shape, draws = (k, *self.alpha.shape), self._draws(generator)
        if draws is None:
            return standard_sas(self.alpha, shape, generator)
        return cms_transform(
            _shared_row(self.alpha), draws.uniform(shape, self.alpha.dtype), draws.exponential(shape, self.alpha.dtype)
        )


class GaussianNoise(NoiseSource):
    def __init__(self, eps: torch.Tensor, scale: torch.Tensor, dt: float):
        amp = eps * scale * dt**0.5
        super().__init__(amp, torch.full_like(amp, 0.5))

    def _standard(self, k, generator):
        shape, draws = (k, *self.amp.shape), self._draws(generator)
        if draws is None:
            return torch.randn(shape, generator=generator, dtype=self.amp.dtype, device=self.amp.device)
        return draws.normal(shape, self.amp.dtype)


class CovarianceNoise(GaussianNoise):
    def __init__(self, covariance: torch.Tensor, eps: torch.Tensor, scale: torch.Tensor, dt: float):
        super().__init__(eps, scale, dt)
        self.root_t = covariance_sqrt(covariance).T

    def _standard(self, k, generator):
        return super()._standard(k, generator) @ self.root_t


def covariance_sqrt(covariance: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a positive semi-definite (d, d) matrix (eigenvalues ≥ −1e-10·max clipped to 0)."""
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1] or not torch.all(torch.isfinite(covariance)):
        raise InvalidInputError(
            f"a noise covariance must be a finite (d, d) matrix; got shape {tuple(covariance.shape)}"
        )
    if not torch.allclose(covariance, covariance.T, rtol=1e-8, atol=1e-12):
        raise InvalidInputError("the noise covariance must be symmetric")
    evals = torch.linalg.eigvalsh(covariance)
    if evals.min() < -1e-10 * max(evals.abs().max().item(), 1e-300):
        raise InvalidInputError(
            f"the noise covariance must be positive semi-definite; smallest eigenvalue {evals.min().item():.3g}"
        )
    return psd_sqrt(covariance)


def psd_sqrt(matrices: torch.Tensor) -> torch.Tensor:
    """Symmetric square roots of symmetric matrices ``(..., d, d)``, negative eigenvalues (round-off
    of a positive semi-definite matrix) clipped to 0; unchecked (:func:`covariance_sqrt` checks)."""
    evals, evecs = torch.linalg.eigh(matrices)
    return (evecs * evals.clamp(min=0).sqrt()[..., None, :]) @ evecs.transpose(-1, -2)
