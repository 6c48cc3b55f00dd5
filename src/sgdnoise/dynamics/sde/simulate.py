"""Exit of many SDE paths from a domain: Euler scheme, vectorised over paths, memory O(paths).

``dX = drift(X) dt + noise``, with the noises of :mod:`sgdnoise.dynamics.sde.noise`: per-coordinate
SαS Lévy (Battash et al. eq. 3), Gaussian (Langevin) or anisotropic Gaussian ``Σ^{1/2} dW``,
optionally scaled by a learning-rate scheduler. Work goes in blocks of steps: the noise of a
block is drawn at once, each step is the drift plus two in-place adds (no per-step bookkeeping or
host sync), and the domain is checked, exits found and frozen at their exit point, and exited
paths dropped once per block. Nothing that grows with the number of steps is kept unless a
trajectory is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sgdnoise.dynamics.progress import step_progress
from sgdnoise.dynamics.sde.domains import Domain, PredicateDomain, as_domain
from sgdnoise.dynamics.sde.noise import CovarianceNoise, GaussianNoise, LevyNoise, NoiseSource
from sgdnoise.dynamics.sde.potentials import Potential
from sgdnoise.dynamics.sde.results import ExitResult
from sgdnoise.dynamics.sde.schedules import ConstantSchedule, Schedule
from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import positive_int, positive_number
from sgdnoise.rng import Seed, as_generator

Drift = Potential | Callable[[torch.Tensor], torch.Tensor]


def _per_path(value: Any, shape: tuple[int, int], name: str, opts: dict) -> torch.Tensor:
    """``value`` — scalar, (d,), (P, d), or for ``eps`` also (P,) (one per path; this reading wins
    when P = d) — as a (P, d) tensor."""
    t = value.detach().to(**opts) if isinstance(value, torch.Tensor) else torch.as_tensor(value, **opts)
    if name == "eps" and t.ndim == 1 and t.shape[0] == shape[0]:
        t = t[:, None]
    if t.ndim > 2:
        raise InvalidInputError(f"{name} must be a scalar, (d,) or (n_paths, d); got shape {tuple(t.shape)}")
    try:
        return t.expand(shape).clone()
    except RuntimeError as exc:
        raise InvalidInputError(
            f"{name} of shape {tuple(t.shape)} does not broadcast to (n_paths, d) = {shape}"
        ) from exc


def _drift_function(drift: Drift, x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The drift as a function of positions (P, d), checked at the start ``x``."""
    if isinstance(drift, Potential):
        fn = drift.drift
    elif callable(drift):
        fn = drift
    else:
        raise InvalidInputError(f"drift must be a Potential or a callable x -> drift(x); got {type(drift).__name__}")
    d0 = fn(x)
    if not isinstance(d0, torch.Tensor) or d0.shape != x.shape:
        raise InvalidInputError(
            f"drift must return a tensor of shape (n_paths, d) = {tuple(x.shape)}; "
            f"got {getattr(d0, 'shape', type(d0).__name__)}"
        )
    if not torch.all(torch.isfinite(d0)):
        raise InvalidInputError("drift is NaN or Inf at the starting point; check the potential or drift function")
    return fn


def _noise_source(noise: Any, alpha: Any, eps: torch.Tensor, scale: torch.Tensor, dt: float, opts: dict) -> NoiseSource:
    if isinstance(noise, str) and noise == "levy":
        if alpha is None:
            raise InvalidInputError("Lévy noise needs alpha (one per coordinate, in (0, 2])")
        a = _per_path(alpha, tuple(eps.shape), "alpha", opts)
        if not torch.all((a > 0) & (a <= 2)):
            raise InvalidInputError(
                f"alpha must lie in (0, 2]; got {a[~((a > 0) & (a <= 2))][:3].tolist()}. "
                "Use alpha=2 or noise='gaussian' for Gaussian noise."
            )
        return LevyNoise(a, eps, scale, dt)
    if alpha is not None:
        raise InvalidInputError("alpha applies to noise='levy' only; drop it for Gaussian or covariance noise")
    if isinstance(noise, str):
        if noise != "gaussian":
            raise InvalidInputError(f"noise must be 'levy', 'gaussian' or a (d, d) covariance matrix; got {noise!r}")
        return GaussianNoise(eps, scale, dt)
    cov = torch.as_tensor(noise, **opts) if not isinstance(noise, torch.Tensor) else noise.detach().to(**opts)
    if cov.shape != (eps.shape[1], eps.shape[1]):
        raise InvalidInputError(
            f"the noise covariance must have shape (d, d) = {(eps.shape[1],) * 2}; got {tuple(cov.shape)}"
        )
    return CovarianceNoise(cov, eps, scale, dt)


def simulate_exit(
    drift: Drift,
    x0: Any,
    *,
    alpha: Any = None,
    eps: Any,
    dt: float,
    domain: Domain | Callable[[torch.Tensor], torch.Tensor],
    n_paths: int,
    max_steps: int,
    seed: Seed = None,
    schedule: Schedule | None = None,
    noise: str | Any = "levy",
    scale: Any = 1.0,
    record_every: int | None = None,
    progress: bool = False,
    block_steps: int = 64,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> ExitResult:
    """Simulate ``n_paths`` Euler paths until each leaves ``domain`` or ``max_steps`` steps pass.

    Scheme, per step of length ``dt`` at time ``t_n = n·dt``::

        X_{n+1} = X_n + drift(X_n) dt + ε · scale_l · s_{t_n}^{(α_l−1)/α_l} · dt^{1/α_l} · S_{α_l}   (noise="levy")
        X_{n+1} = X_n + drift(X_n) dt + ε · scale_l · s_{t_n}^{1/2} · √dt · Z_l                   (noise="gaussian")
        X_{n+1} = X_n + drift(X_n) dt + ε · s_{t_n}^{1/2} · √dt · scale ⊙ Σ^{1/2} Z              (noise=Σ)

    with ``S_α`` standard SαS (``E e^{iuS} = e^{−|u|^α}``, so α = 2 has variance 2) and Z standard
    normal. A path exits on the first step that lands outside ``domain``; its time is the end of
    that step.

    Parameters
    ----------
    drift : a :class:`Potential` (drift −∇U) or a callable mapping positions (P, d) to drifts (P, d).
    x0 : start, (d,) for all paths or (n_paths, d); must lie inside ``domain``.
    alpha : Lévy noise only: tail index per coordinate in (0, 2]; scalar, (d,) or (n_paths, d).
    eps : noise amplitude ε > 0; scalar, (d,), (n_paths,) (one per path) or (n_paths, d).
    dt : step > 0. domain : :class:`Box`, :class:`Ball` or a predicate ``x -> (P,) bool``.
    n_paths, max_steps : positive ints. seed : int, ``torch.Generator`` or None.
    schedule : a :class:`Schedule` (``ConstantSchedule`` if None).
    noise : ``"levy"``, ``"gaussian"`` or a (d, d) covariance matrix Σ.
    scale : per-coordinate factor (Battash's ``1ᵀλ_l``); scalar, (d,) or (n_paths, d).
    record_every : if given, keep positions every that many steps (memory grows with steps).
    progress : show a rich progress bar.
    block_steps : steps simulated per block: their noise is drawn at once, the domain is checked
        once per block, and exited paths are dropped at block ends (a path that left mid-block is
        frozen at its exit point, but the drift is still evaluated, and discarded, at the points it
        would have moved on to until the block ends). Memory is O(block_steps · n_paths · d).

    Raises :class:`InvalidInputError` for α outside (0, 2], non-positive dt/eps, a start outside
    the domain, or a drift that is not finite at the start or produces NaN during the run.
    """
    dt = positive_number(dt, "dt")
    for name, v in (("n_paths", n_paths), ("max_steps", max_steps), ("block_steps", block_steps)):
        positive_int(v, name)
    if record_every is not None:
        positive_int(record_every, "record_every")
    opts = dict(dtype=dtype, device=torch.device(device))
    x = _start(x0, n_paths, opts)
    domain = _domain_for(domain, x)
    eps_t = _per_path(eps, tuple(x.shape), "eps", opts)
    if not torch.all(torch.isfinite(eps_t) & (eps_t > 0)):
        raise InvalidInputError(f"eps must be finite and > 0; got {eps_t[~(eps_t > 0)][:3].tolist()}")
    scale_t = _per_path(scale, tuple(x.shape), "scale", opts)
    if not torch.all(torch.isfinite(scale_t) & (scale_t > 0)):
        raise InvalidInputError("scale must be finite and > 0")
    source = _noise_source(noise, alpha, eps_t, scale_t, dt, opts)
    drift_fn = _drift_function(drift, x)
    schedule = schedule or ConstantSchedule()
    return _run(
        x,
        drift_fn,
        source,
        domain,
        None if isinstance(schedule, ConstantSchedule) else schedule,
        dt=dt,
        max_steps=max_steps,
        block_steps=block_steps,
        record_every=record_every,
        generator=as_generator(seed, opts["device"]),
        progress=progress,
    )


def _start(x0: Any, n_paths: int, opts: dict) -> torch.Tensor:
    x = x0.detach().to(**opts) if isinstance(x0, torch.Tensor) else torch.as_tensor(x0, **opts)
    if x.ndim == 0 or x.ndim > 2 or (x.ndim == 2 and x.shape[0] != n_paths):
        raise InvalidInputError(f"x0 must have shape (d,) or (n_paths, d) = ({n_paths}, d); got {tuple(x.shape)}")
    if not torch.all(torch.isfinite(x)):
        raise InvalidInputError("x0 must be finite")
    return x.expand(n_paths, x.shape[-1]).clone()


def _domain_for(domain: Domain | Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Domain:
    """The domain, checked against the start ``x`` (P, d); a predicate's axes are measured from x0."""
    domain = as_domain(domain)
    if domain.dim is not None and domain.dim != x.shape[1]:
        raise InvalidInputError(f"the domain has dimension {domain.dim} but x0 has {x.shape[1]} coordinates")
    if isinstance(domain, PredicateDomain) and domain.origin is None:
        domain = PredicateDomain(domain.inside, origin=x[0].cpu())
    outside = ~domain.contains(x)
    if torch.any(outside):
        raise InvalidInputError(
            f"{int(outside.sum())} of {x.shape[0]} starting points lie outside the domain "
            f"(e.g. {x[outside][0].tolist()}); start inside it"
        )
    return domain


def _step_column(k: int, device: torch.device) -> torch.Tensor:
    """``[[0], [1], …, [k−1]]`` (int32), the step index of each row of a block."""
    return torch.arange(k, dtype=torch.int32, device=device).unsqueeze(1)


def _run(
    x, drift_fn, source, domain, schedule, *, dt, max_steps, block_steps, record_every, generator, progress
) -> ExitResult:
    """The block loop: per block draw the noise of ``k = block_steps`` steps for the running paths
    and step them all k times, each step overwriting its own noise with the new positions
    (``X_{j+1} = ξ_j + dt·drift(X_j) + X_j``, so the block's path is kept at no extra memory);
    then test the block's k·A positions against the domain at once, find each path's first step
    outside, freeze it there, and drop the exited paths. Paths that left mid-block keep stepping
    until the block ends (those positions, and the drift there, are discarded), so a step costs
    the drift and two in-place adds."""
    n_paths, device, dtype = x.shape[0], x.device, x.dtype
    time = torch.full((n_paths,), np.nan, dtype=dtype, device=device)
    exit_axis = torch.full((n_paths,), -1, dtype=torch.long, device=device)
    final = x.clone()  # exit positions (and, at the end, last positions of running paths)
    active = torch.arange(n_paths, device=device)
    xa = x
    frames = [x.clone().cpu()] if record_every else None
    steps = 0
    with step_progress(progress, max_steps, "simulating exits", running="running") as advance:
        while steps < max_steps and active.numel() > 0:
            k = min(block_steps, max_steps - steps)
            s_values = (
                None if schedule is None else schedule(torch.arange(steps, steps + k, dtype=dtype, device=device) * dt)
            )
            path = source.draw(k, s_values, generator)  # (k, A, d): the noise, then the positions
            for j in range(k):
                xa = path[j].add_(drift_fn(xa), alpha=dt).add_(xa)
            inside = domain.contains(path.view(-1, path.shape[-1])).view(k, -1)  # (k, A), one check per block
            first_out = torch.where(inside, k, _step_column(k, device)).amin(0)  # first step outside, k if none
            left = first_out < k
            end = path[first_out.clamp(max=k - 1), torch.arange(left.numel(), device=device)]  # exit or last point
            if torch.any(torch.isnan(end)):
                raise InvalidInputError(
                    f"the simulation produced NaN between steps {steps} and {steps + k} "
                    "(the drift returned NaN, the Euler scheme blew up, or — in float32 — the SαS sampler "
                    "returned NaN); check the drift, reduce dt, or use float64"
                )
            if frames is not None:
                for j in range(-(steps + 1) % record_every, k, record_every):  # steps + j + 1 ≡ 0 (mod record_every)
                    gone = (left & (first_out <= j)).unsqueeze(1)
                    frames.append(final.index_copy(0, active, torch.where(gone, end, path[j])).cpu())
            ids = active[left]
            time[ids] = (steps + 1 + first_out[left]).to(
                dtype
            ) * dt  # a path that leaves on step j has taken j + 1 steps
            exit_axis[ids] = domain.exit_axis(end[left])
            final[active] = end
            keep = ~left
            active, xa, source = active[keep], end[keep], source.take(keep)
            steps += k
            advance(k, active.numel())
    time[active] = steps * dt
    exited = torch.ones(n_paths, dtype=torch.bool, device=device)
    exited[active] = False
    return ExitResult(
        time=time.cpu().numpy(),
        position=final.cpu().numpy(),
        exited=exited.cpu().numpy(),
        axis=exit_axis.cpu().numpy(),
        dt=dt,
        n_steps=steps,
        trajectory=None if frames is None else torch.stack(frames).numpy(),
    )
