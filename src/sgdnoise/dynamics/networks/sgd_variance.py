"""SGD's own noise per step: its total variance ``η² Tr Σ_B`` at the current weights.

Zhu et al. compare noise shapes at "equal total variance"; the natural total is SGD's own, the
trace of the covariance of ``η`` times the mini-batch gradient noise (papers.md §1, eq. 2).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.plumbing import LossFn, as_data_source, evaluation_mode, model_device


def sgd_step_variance(per_sample: torch.Tensor, *, lr: float, batch_size: int) -> torch.Tensor:
    """``η² Tr Σ_B`` from per-sample gradients ``(R, N, P)``, one value per repeat ``(R,)``.

    ``Σ_B = (1/B)·(N − B)/(N − 1)·Σ`` for mini-batches drawn without replacement (papers.md §1,
    eq. 2, as :func:`~sgdnoise.curvature.noise_covariance`), ``Tr Σ = (1/N) Σ_i ‖g_i − ḡ‖²``.
    """
    n = per_sample.shape[1]
    trace = (per_sample - per_sample.mean(dim=1, keepdim=True)).square().sum(dim=(1, 2)) / n
    return lr * lr * (n - batch_size) / (batch_size * max(n - 1, 1)) * trace


def sgd_noise_variance(model: nn.Module, loss_fn: LossFn, data: Any, *, lr: float, batch_size: int) -> float:
    """The total per-step variance of SGD's own noise at the model's weights (:func:`sgd_step_variance`),
    the model evaluated in eval mode (each submodule gets its own flag back)."""
    x, y = as_data_source(data).tensors(model_device(model))
    loss = StackedLoss(model, loss_fn, x, y)
    with evaluation_mode(model):
        per_sample = loss.sample_gradients(loss.start[None])
    return float(sgd_step_variance(per_sample, lr=lr, batch_size=batch_size)[0])
