"""Per-sample gradients of a model over a dataset, as one ``(N, D)`` tensor.

Used to build Σ (:func:`~sgdnoise.curvature.operators.noise_covariance`), the empirical Fisher
and, with an output function as the "loss", Wang & Wu's ``G``. Memory is ``N·D`` numbers:
for large models select parameters with ``params=`` or subsample the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sgdnoise.curvature.data import Data, data_source, dataset_concat
from sgdnoise.curvature.functional import FunctionalModel
from sgdnoise.plumbing import LossFn, ParameterSpace


def per_sample_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    data: Data,
    *,
    params: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    chunk_size: int = 256,
) -> torch.Tensor:
    """``∇_θ ℓ(f(x_i; θ), y_i)`` for every sample, shape ``(N, D)``, in eval mode.

    ``loss_fn(output, target)`` is called on batches of one sample. ``D`` and the column order
    are those of ``ParameterSpace(model, params, exclude)``.
    """
    source = data_source(data, chunk_size)
    space = ParameterSpace(model, params, exclude)
    fmodel = FunctionalModel(model, loss_fn, space, "eval")
    theta = space.vector()
    return dataset_concat(source, chunk_size, space.device, lambda x, y: fmodel.sample_gradients(theta, x, y))
