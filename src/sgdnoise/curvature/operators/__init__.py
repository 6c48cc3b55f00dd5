"""Curvature operators: symmetric ``D × D`` matrices known through products (see :mod:`.base`)."""

from sgdnoise.curvature.operators.base import DenseOperator, LinearOperator
from sgdnoise.curvature.operators.covariance import (
    GramOperator,
    empirical_fisher,
    minibatch_noise_covariance,
    noise_covariance,
)
from sgdnoise.curvature.operators.model import EmpiricalFisherOperator, GGNOperator, HessianOperator, ModelOperator

__all__ = [
    "DenseOperator",
    "EmpiricalFisherOperator",
    "GGNOperator",
    "GramOperator",
    "HessianOperator",
    "LinearOperator",
    "ModelOperator",
    "empirical_fisher",
    "minibatch_noise_covariance",
    "noise_covariance",
]
