"""Seeded synthetic datasets with a known generating law.

- :func:`gaussian_mixture`: ``C`` classes, class ``c`` drawn from ``N(μ_c, I_d)`` with centres
  ``μ_c ~ N(0, (separation²/d)·I_d)`` (so ``E‖μ_c − μ_c'‖² = 2·separation²``), equal class
  sizes up to one point.
- :func:`teacher_student`: regression ``y = f_teacher(x) + noise·ε`` with ``x ~ N(0, I_d)``,
  ``ε ~ N(0, I_T)`` and a random one-hidden-layer tanh teacher
  ``f(x) = W₂ tanh(W₁ x / √d) / √h`` (``hidden=0``: linear teacher ``W x / √d``).

Everything (centres, teacher weights, points, split) comes from one ``torch.Generator`` built
from ``seed``: the same seed gives the same data.
"""

from __future__ import annotations

import torch

from sgdnoise.data.dataset import Split, TensorData, build_tensor_data
from sgdnoise.errors import ConfigError
from sgdnoise.plumbing.checks import positive_int
from sgdnoise.rng import as_generator


def gaussian_mixture(
    num_samples: int = 1000,
    *,
    num_classes: int = 2,
    dim: int = 2,
    separation: float = 3.0,
    seed: int = 0,
    split: Split = "train",
    test_fraction: float = 0.2,
    standardize: bool = False,
) -> TensorData:
    """Classification data from a mixture of unit-covariance Gaussians (see module doc)."""
    positive_int(num_samples, "num_samples", error=ConfigError)
    positive_int(num_classes, "num_classes", minimum=2, error=ConfigError)
    positive_int(dim, "dim", error=ConfigError)
    gen = as_generator(seed)
    centres = torch.randn(num_classes, dim, generator=gen, dtype=torch.float64) * (separation / dim**0.5)
    labels = torch.arange(num_samples) % num_classes
    labels = labels[torch.randperm(num_samples, generator=gen)]
    x = centres[labels] + torch.randn(num_samples, dim, generator=gen, dtype=torch.float64)
    source = (
        f"gaussian_mixture(num_samples={num_samples}, num_classes={num_classes}, dim={dim}, "
        f"separation={separation}, seed={seed})"
    )
    return build_tensor_data(
        "gaussian_mixture",
        x.numpy(),
        labels.numpy(),
        task="classification",
        source=source,
        class_names=tuple(str(c) for c in range(num_classes)),
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
    )


def teacher_student(
    num_samples: int = 1000,
    *,
    dim: int = 10,
    hidden: int = 16,
    outputs: int = 1,
    noise: float = 0.1,
    seed: int = 0,
    split: Split = "train",
    test_fraction: float = 0.2,
    standardize: bool = False,
) -> TensorData:
    """Regression data from a random teacher network plus Gaussian label noise (see module doc)."""
    for name, value in (("num_samples", num_samples), ("dim", dim), ("outputs", outputs)):
        positive_int(value, name, error=ConfigError)
    if hidden < 0 or noise < 0:
        raise ConfigError(f"teacher_student needs hidden ≥ 0 and noise ≥ 0; got hidden={hidden}, noise={noise}")
    gen = as_generator(seed)
    x = torch.randn(num_samples, dim, generator=gen, dtype=torch.float64)
    if hidden:
        w1 = torch.randn(hidden, dim, generator=gen, dtype=torch.float64)
        w2 = torch.randn(outputs, hidden, generator=gen, dtype=torch.float64)
        clean = torch.tanh(x @ w1.T / dim**0.5) @ w2.T / hidden**0.5
    else:
        w = torch.randn(outputs, dim, generator=gen, dtype=torch.float64)
        clean = x @ w.T / dim**0.5
    y = clean + noise * torch.randn(num_samples, outputs, generator=gen, dtype=torch.float64)
    source = (
        f"teacher_student(num_samples={num_samples}, dim={dim}, hidden={hidden}, outputs={outputs}, "
        f"noise={noise}, seed={seed})"
    )
    return build_tensor_data(
        "teacher_student",
        x.numpy(),
        y.numpy(),
        task="regression",
        source=source,
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
    )
