"""Potentials ``U: R^d → R`` evaluated on a batch of paths, ``x`` of shape (P, d).

Each potential is a small object with ``value(x) -> (P,)`` and ``grad(x) -> (P, d)``; the drift
of the gradient flow is ``−grad``. Analytic gradients where the formula is simple; the base class
falls back on autograd, so :class:`FunctionPotential` wraps any user function of a tensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.rng import as_generator


class Potential:
    """Base class: override :meth:`value`; :meth:`grad` defaults to autograd of ``value``.

    ``dim`` is the dimension d the potential accepts (``None`` for any).
    """

    dim: int | None = None

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``U(x)`` for ``x`` of shape (P, d); returns (P,)."""
        raise NotImplementedError

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """``∇U(x)``, shape (P, d), by autograd (rows are independent, so one backward pass)."""
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.value(xg).sum(), xg)
        return g

    def drift(self, x: torch.Tensor) -> torch.Tensor:
        """Gradient-flow drift ``−∇U(x)``, shape (P, d)."""
        return -self.grad(x)


def _matrix(h: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(h, dtype=torch.float64)
    if t.ndim == 1:
        t = torch.diag(t)
    if t.ndim != 2 or t.shape[0] != t.shape[1] or not torch.all(torch.isfinite(t)):
        raise InvalidInputError(
            f"{name} must be a finite square matrix or a vector of its diagonal; got shape {tuple(t.shape)}"
        )
    if not torch.allclose(t, t.T, rtol=1e-10, atol=1e-12):
        raise InvalidInputError(f"{name} must be symmetric")
    return t


class Quadratic(Potential):
    """``U(x) = ½ (x − c)ᵀ H (x − c)`` with any symmetric H (a vector means diag(H)); ∇U = H(x − c)."""

    def __init__(self, hessian: Any, center: Any = None):
        self.hessian = _matrix(hessian, "hessian")
        self.dim = self.hessian.shape[0]
        self.center = (
            torch.zeros(self.dim, dtype=torch.float64)
            if center is None
            else torch.as_tensor(center, dtype=torch.float64).reshape(self.dim)
        )
        self._is_diagonal = bool(torch.all(self.hessian == torch.diag(torch.diagonal(self.hessian))))
        self._centered = bool(torch.all(self.center == 0))
        self._cast: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _operands(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(H or diag H, c)`` in ``x``'s dtype and device (cached: the simulator calls grad every step)."""
        key = (x.dtype, x.device)
        if key not in self._cast:
            h = torch.diagonal(self.hessian) if self._is_diagonal else self.hessian
            self._cast[key] = (h.to(x), self.center.to(x))
        return self._cast[key]

    def _shift(self, x: torch.Tensor) -> torch.Tensor:
        return x if self._centered else x - self._operands(x)[1]

    def value(self, x: torch.Tensor) -> torch.Tensor:
        y = self._shift(x)
        return 0.5 * ((y @ self.hessian.to(x)) * y).sum(dim=-1)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        h = self._operands(x)[0]
        y = self._shift(x)
        return y * h if self._is_diagonal else y @ h  # H symmetric


class DoubleWell(Potential):
    """``U(x) = barrier · ((x_0/well)² − 1)² + ½ stiffness Σ_{i≥1} x_i²``.

    Minima at ``x_0 = ±well`` (other coordinates 0), index-1 saddle at the origin, barrier height
    ``barrier``; curvature along x_0 is ``8·barrier/well²`` at the minima and ``−4·barrier/well²``
    at the saddle (Kramers' ``H_a``, ``H_b``). ``dim`` ≥ 1.
    """

    def __init__(self, barrier: float = 1.0, well: float = 1.0, dim: int = 1, stiffness: float = 1.0):
        if not (barrier > 0 and well > 0 and stiffness > 0 and dim >= 1):
            raise InvalidInputError("DoubleWell needs barrier, well, stiffness > 0 and dim ≥ 1")
        self.barrier, self.well, self.dim, self.stiffness = float(barrier), float(well), int(dim), float(stiffness)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        q = (x[:, 0] / self.well) ** 2 - 1.0
        return self.barrier * q**2 + 0.5 * self.stiffness * (x[:, 1:] ** 2).sum(dim=-1)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        x0 = x[:, :1]
        g0 = (x0 * x0).mul_(1.0 / self.well**2).sub_(1.0).mul_(x0).mul_(4.0 * self.barrier / self.well**2)
        return g0 if self.dim == 1 else torch.cat([g0, self.stiffness * x[:, 1:]], dim=1)


class Ackley(Potential):
    """2-D Ackley function (Battash et al. Fig. 6), global minimum 0 at the origin.

    ``f(x, y) = −20 exp(−0.2 √(0.5(x² + y²))) − exp(0.5(cos 2πx + cos 2πy)) + e + 20``.
    The first term is a cone at the origin; its gradient there is set to 0 (the symmetric
    subgradient) instead of autograd's NaN.
    """

    dim = 2

    def value(self, x: torch.Tensor) -> torch.Tensor:
        r = torch.sqrt(0.5 * (x**2).sum(dim=-1))
        return -20.0 * torch.exp(-0.2 * r) - torch.exp(0.5 * torch.cos(2 * math.pi * x).sum(dim=-1)) + math.e + 20.0

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        r = torch.sqrt(0.5 * (x**2).sum(dim=-1, keepdim=True))
        cone = torch.where(
            r > 0, 2.0 * torch.exp(-0.2 * r) / r.clamp(min=torch.finfo(x.dtype).tiny), torch.zeros_like(r)
        )
        waves = (
            torch.exp(0.5 * torch.cos(2 * math.pi * x).sum(dim=-1, keepdim=True)) * math.pi * torch.sin(2 * math.pi * x)
        )
        return cone * x + waves


class ZhuToy(Potential):
    """The 2-D sharp/flat toy of Zhu et al. (2019), papers.md §5 (their code).

    ``U(w) = mean_k min(10(K1u − K2v)² + 100(K1u + K2v)², ‖w − x_k + 1‖²)`` with
    ``(u, v) = w − x_k − 1`` and ``K1 = K2 = 1/√2`` (a 45° rotation): a sharp minimum near (1, 1)
    with Hessian eigenvalues 20 and 200 (the sharp one along (1, 1)), a flat one near (−1, −1)
    with Hessian 2I. ``data`` (N, 2) are the points ``x_k``; default: N = 100 points
    ``randn·[√10, 1]·K·1e−2`` drawn with ``seed``.

    ``per_sample_grad(w)`` returns (P, N, 2) (the SGD noise source); ``hessian(w)`` (P, 2, 2).
    """

    dim = 2
    # rows: the directions of a = K1u − K2v (curvature 20) and b = K1u + K2v (curvature 200)
    ROTATION = torch.tensor([[1.0, -1.0], [1.0, 1.0]], dtype=torch.float64) / math.sqrt(2.0)

    def __init__(self, data: Any = None, *, n_data: int = 100, seed: int = 0):
        if data is None:
            gen = as_generator(seed)
            z = torch.randn(n_data, 2, generator=gen, dtype=torch.float64)
            data = (z * torch.tensor([math.sqrt(10.0), 1.0], dtype=torch.float64)) @ self.ROTATION * 1e-2
        self.data = torch.as_tensor(data, dtype=torch.float64)
        if self.data.ndim != 2 or self.data.shape[1] != 2:
            raise InvalidInputError(f"ZhuToy data must have shape (N, 2); got {tuple(self.data.shape)}")
        self.sharp_hessian = (
            self.ROTATION.T @ torch.diag(torch.tensor([20.0, 200.0], dtype=torch.float64)) @ self.ROTATION
        )

    def _branches(self, w: torch.Tensor):
        """Per-sample (a, b) coordinates of the sharp branch, flat displacements and the branch the
        min picks, computed component-wise (shapes (P, N)) — small matmuls are slow on CPU."""
        data = self.data.to(w)
        u = w[:, None, 0] - data[None, :, 0] - 1.0
        v = w[:, None, 1] - data[None, :, 1] - 1.0
        (ra0, ra1), (rb0, rb1) = self.ROTATION.tolist()
        a, b = ra0 * u + ra1 * v, rb0 * u + rb1 * v
        f0, f1 = u + 2.0, v + 2.0  # w − x + 1
        use_sharp = 10.0 * a * a + 100.0 * b * b <= f0 * f0 + f1 * f1
        return a, b, f0, f1, use_sharp

    def value(self, w: torch.Tensor) -> torch.Tensor:
        a, b, f0, f1, _ = self._branches(w)
        return torch.minimum(10.0 * a * a + 100.0 * b * b, f0 * f0 + f1 * f1).mean(dim=-1)

    def per_sample_grad(self, w: torch.Tensor) -> torch.Tensor:
        return self.per_sample_grad_and_hessian(w)[0]

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        return self.per_sample_grad(w).mean(dim=1)

    def hessian(self, w: torch.Tensor) -> torch.Tensor:
        """Hessian of U at each path, (P, 2, 2): share of sharp branches × H_sharp + share of flat × 2I."""
        return self.per_sample_grad_and_hessian(w)[1]

    def per_sample_grad_and_hessian(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(per_sample_grad (P, N, 2), hessian (P, 2, 2))`` from one pass over the data."""
        a, b, f0, f1, use_sharp = self._branches(w)
        (ra0, ra1), (rb0, rb1) = self.ROTATION.tolist()
        sharp_g0, sharp_g1 = 20.0 * a * ra0 + 200.0 * b * rb0, 20.0 * a * ra1 + 200.0 * b * rb1
        grads = torch.stack(
            [torch.where(use_sharp, sharp_g0, 2.0 * f0), torch.where(use_sharp, sharp_g1, 2.0 * f1)], dim=-1
        )
        share = use_sharp.to(w.dtype).mean(dim=1)[:, None, None]
        eye = torch.eye(2, dtype=w.dtype, device=w.device)
        return grads, share * self.sharp_hessian.to(w) + (1 - share) * 2.0 * eye


class FunctionPotential(Potential):
    """Any user function ``fn(x: (P, d) tensor) -> (P,)``; gradients by autograd.

    ``fn`` must be written with torch operations and treat rows independently.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], dim: int | None = None):
        if not callable(fn):
            raise InvalidInputError(f"FunctionPotential needs a callable; got {type(fn).__name__}")
        self.fn, self.dim = fn, dim

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)
