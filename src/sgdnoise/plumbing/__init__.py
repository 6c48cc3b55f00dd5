"""The torch plumbing every layer shares, in one place.

- :mod:`~sgdnoise.plumbing.losses`: the loss type ``LossFn``, which standard loss a callable is
  (:func:`describe_loss`), per-sample losses and gradients of a mean loss, the default loss of a
  target.
- :mod:`~sgdnoise.plumbing.modes`: :func:`module_mode`, a context that sets a model's mode and
  gives every submodule its own flag back on exit.
- :mod:`~sgdnoise.plumbing.data`: :func:`as_data_source`, the one adapter from what a user
  passes as data (tensor pair, Dataset, DataLoader, batches) to what a layer reads;
  :func:`as_indexed_source` for a layer that takes points by index.
- :mod:`~sgdnoise.plumbing.batches`: the mini-batches ``Ω_1 … Ω_K`` of eq. 1, drawn from a seed.
- :mod:`~sgdnoise.plumbing.parameters`: :class:`ParameterSpace`, a subset of a model's parameters
  as one flat vector; :func:`trainable_parameters`.
- :mod:`~sgdnoise.plumbing.checks`: argument checks that raise the package's own errors (positive
  ints and numbers, a model with parameters and its device).
- :mod:`~sgdnoise.plumbing.private_ops`: the private torch operators the package relies on.

It sits at the bottom of the layers, beside ``models``, ``data``, ``store`` and ``parallel``.
"""

from sgdnoise.plumbing.batches import sample_batch_indices, sample_batch_indices_per_stream
from sgdnoise.plumbing.checks import model_device, positive_int, positive_number
from sgdnoise.plumbing.data import DataSource, as_data_source, as_indexed_source
from sgdnoise.plumbing.losses import LossFn, LossSpec, default_loss, describe_loss, per_sample_losses
from sgdnoise.plumbing.modes import evaluation_mode, module_mode
from sgdnoise.plumbing.parameters import ParameterSpace, trainable_parameters

__all__ = [
    "DataSource",
    "LossFn",
    "LossSpec",
    "ParameterSpace",
    "as_data_source",
    "as_indexed_source",
    "default_loss",
    "describe_loss",
    "evaluation_mode",
    "model_device",
    "module_mode",
    "per_sample_losses",
    "positive_int",
    "positive_number",
    "sample_batch_indices",
    "sample_batch_indices_per_stream",
    "trainable_parameters",
]
