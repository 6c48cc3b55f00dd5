"""Sizes of a model measured once, by one forward pass of one sample: what the memory rules and
the planner's engine rule read.

``P`` trainable parameters, ``A`` floats of all leaf-module outputs for one sample, ``s`` bytes
per float, the number of leaf-module calls of one forward pass, and for each module holding a
computed entry (an *owner*, summed over its calls): the per-sample spatial size ``T`` of its
output (tokens, pixels), the floats of its input and output for one sample, and its class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class ModelProbe:
    """Trainable parameters ``num_params`` (``P``), leaf outputs per sample
    ``activations_per_sample`` (``A``), bytes per float ``itemsize`` (``s``), leaf-module calls of
    one forward pass ``module_calls``; per owner module ``positions[owner]`` (``T``),
    ``factors[owner]`` (input + output floats of one sample) and ``owner_types[owner]`` (its class)."""

    num_params: int
    activations_per_sample: int
    itemsize: int
    module_calls: int
    positions: Mapping[str, int] = field(default_factory=dict)
    factors: Mapping[str, int] = field(default_factory=dict)
    owner_types: Mapping[str, type[nn.Module]] = field(default_factory=dict)


def _positions(module: nn.Module, output: torch.Tensor) -> int:
    """Positions per sample of a module's output: all but its channel axis (the last for Linear and
    LayerNorm, the second for conv and norm layers); 1 for an output with no axis beyond the batch."""
    if output.ndim <= 1:
        return 1
    channels = output.shape[-1] if isinstance(module, (nn.Linear, nn.LayerNorm)) else output.shape[1]
    return output.numel() // max(channels, 1)


def probe_model(model: nn.Module, x1: torch.Tensor, owners: set[str]) -> ModelProbe:
    """Run one sample ``x1`` (leading axis 1) through ``model`` and count output floats; ``owners``
    are the names of the modules whose positions and factors are counted as well."""
    sizes: dict[str, int] = {}
    calls: dict[str, int] = {}
    positions: dict[str, int] = {}
    factors: dict[str, int] = {}

    def hook(name: str):
        def count(module: nn.Module, args: tuple, output) -> None:
            if isinstance(output, torch.Tensor):
                sizes[name] = sizes.get(name, 0) + output.numel()
                calls[name] = calls.get(name, 0) + 1
                if name in owners:
                    positions[name] = positions.get(name, 0) + _positions(module, output)
                    factors[name] = factors.get(name, 0) + args[0].numel() + output.numel()

        return count

    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children()) or n in owners]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    try:
        with torch.no_grad():
            model(x1)
    finally:
        for h in handles:
            h.remove()
    params = [p for p in model.parameters() if p.requires_grad]
    return ModelProbe(
        num_params=sum(p.numel() for p in params),
        activations_per_sample=max(sum(sizes.values()), 1),
        itemsize=params[0].element_size() if params else 4,
        module_calls=sum(calls.values()),
        positions=positions,
        factors=factors,
        owner_types={n: type(m) for n, m in leaves if n in owners},
    )
