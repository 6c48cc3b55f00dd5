"""The short way in: the Hessian spectrum and trace of a model's full-data loss in one call.

>>> top = hessian_eigenvalues(model, F.cross_entropy, (X, Y), k=5)
>>> top.eigenvalues, top.residuals
>>> tr = hessian_trace(model, F.cross_entropy, (X, Y))
>>> tr.estimate, tr.stderr
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from torch import nn

from sgdnoise.curvature.algorithms import EigenResult, TraceResult, hutchinson_trace, hutchpp_trace, lanczos
from sgdnoise.curvature.algorithms.power import power_iteration
from sgdnoise.curvature.data import Data
from sgdnoise.curvature.operators import HessianOperator
from sgdnoise.errors import ConfigError
from sgdnoise.plumbing import LossFn
from sgdnoise.rng import Seed


def hessian_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    data: Data,
    k: int = 5,
    *,
    which: str = "top",
    method: str = "lanczos",
    tol: float = 1e-4,
    atol: float = 0.0,
    max_iter: int | None = None,
    params: str | Sequence[str] | None = None,
    chunk_size: int = 1024,
    mode: str = "eval",
    seed: Seed = 0,
    strict: bool = True,
) -> EigenResult:
    """``k`` Hessian eigenpairs of the full-data loss, each certified by its residual.

    ``which`` is "top" (the largest, default), "bottom" (the smallest) or "magnitude" (the
    largest in magnitude, of either sign: PyHessian's notion, one call where it took a top and
    a bottom one). ``method`` is "lanczos" (default) or "power" (deflated power iteration,
    PyHessian's method; it finds the largest in magnitude and takes ``which="magnitude"`` or
    "top"). See
    :func:`~sgdnoise.curvature.algorithms.lanczos.lanczos` for ``tol``/``atol`` and
    :class:`~sgdnoise.curvature.operators.HessianOperator` for ``params``, ``chunk_size``, ``mode``.
    """
    op = HessianOperator(model, loss_fn, data, params=params, chunk_size=chunk_size, mode=mode)
    if method == "lanczos":
        return lanczos(op, k, which=which, tol=tol, atol=atol, max_iter=max_iter, seed=seed, strict=strict)
    if method == "power" and which in ("top", "magnitude"):
        result = power_iteration(op, k, tol=tol, atol=atol, max_iter=max_iter or 1000, seed=seed, strict=strict)
        return dataclasses.replace(result, which=which)
    raise ConfigError(
        f"method must be 'lanczos' or 'power' (power: which='magnitude' or 'top'); got method={method!r}, "
        f"which={which!r}"
    )


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    data: Data,
    *,
    n_products: int = 99,
    method: str = "hutch++",
    params: str | Sequence[str] | None = None,
    chunk_size: int = 1024,
    mode: str = "eval",
    seed: Seed = 0,
) -> TraceResult:
    """``Tr H`` of the full-data loss with its standard error (``.estimate``, ``.stderr``).

    ``method`` is "hutch++" (default; far smaller error on spectra with outliers) or "hutchinson".
    """
    op = HessianOperator(model, loss_fn, data, params=params, chunk_size=chunk_size, mode=mode)
    if method == "hutch++":
        return hutchpp_trace(op, n_products, seed=seed)
    if method == "hutchinson":
        return hutchinson_trace(op, n_products, seed=seed)
    raise ConfigError(f"method must be 'hutch++' or 'hutchinson'; got {method!r}")
