"""``build_model(name, *, input_shape, num_classes, **kw)``: networks by name.

============================  =============================================  ===================
name                          what                                           options (``**kw``)
============================  =============================================  ===================
mlp                           :class:`MLP`                                   depth, width, activation, bias
cnn                           :class:`SmallCNN`                              channels, batch_norm, activation
resnet20 … resnet110          He et al. CIFAR ResNet (6n+2 layers)           —
resnet18, resnet34, resnet50  ImageNet ResNet with a 3×3 stem for 32×32      —
bert_base, bert_small,         BERT-base (Devlin et al.), -Small, -Mini       vocab_size, pad_token_id,
bert_mini                     (Turc et al.) classifiers (``transformers``)   dropout, checkpoint (folder)
tiny_bert                     small random BERT (needs ``transformers``)     vocab_size, hidden_size, …
vae                           Kingma & Welling MLP VAE (:mod:`.vae`)         latent_dim, hidden
============================  =============================================  ===================

``num_classes`` is the width of the output layer (for regression: the number of targets).
Any other ``nn.Module`` works with the rest of sgdnoise; the registry only saves typing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import ConfigError
from sgdnoise.models.bert import TinyBert, bert_base, bert_mini, bert_small
from sgdnoise.models.cnn import SmallCNN
from sgdnoise.models.mlp import MLP
from sgdnoise.models.resnet import RESNET_LAYOUTS, ResNet
from sgdnoise.models.resnet_cifar import CIFAR_DEPTHS, CifarResNet
from sgdnoise.models.vae import VAE
from sgdnoise.plumbing.checks import positive_int

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mlp": MLP,
    "cnn": SmallCNN,
    **{f"resnet{d}": partial(CifarResNet, d) for d in CIFAR_DEPTHS},
    **{f"resnet{d}": partial(ResNet, d) for d in RESNET_LAYOUTS},
    "bert_base": bert_base,
    "bert_small": bert_small,
    "bert_mini": bert_mini,
    "tiny_bert": TinyBert,
    "vae": VAE,
}


def model_names() -> tuple[str, ...]:
    """Every name :func:`build_model` knows."""
    return tuple(_BUILDERS)


def model_options(name: str) -> tuple[str, ...]:
    """The keyword options :func:`build_model` takes for ``name``."""
    if name not in _BUILDERS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(model_names())}")
    return tuple(
        p
        for p, spec in inspect.signature(_BUILDERS[name]).parameters.items()
        if spec.kind is inspect.Parameter.KEYWORD_ONLY
    )


def build_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, **kw: Any) -> nn.Module:
    """A fresh network ``name`` for inputs ``(N, *input_shape)`` and ``num_classes`` outputs.

    Raises :class:`ConfigError` for an unknown name or option, or an input shape the network
    cannot take (e.g. a table for a CNN).
    """
    if name not in _BUILDERS:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(model_names())} (or pass your own nn.Module)"
        )
    positive_int(num_classes, "num_classes", error=ConfigError)
    builder = _BUILDERS[name]
    accepted = list(model_options(name))
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise ConfigError(f"model {name!r} does not take {unknown}; its options are {accepted or 'none'}")
    return builder(tuple(int(s) for s in input_shape), num_classes, **kw)


def seeded_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, seed: int, **kw: Any) -> nn.Module:
    """:func:`build_model` with its initial weights drawn from ``seed``; the global torch RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(name, input_shape=input_shape, num_classes=num_classes, **kw)
