"""Which models and entries the entries engine can take, decided before it runs.

Every computed entry must be a ``weight`` or ``bias`` of a module whose per-sample contributions
the engine forms (:mod:`~sgdnoise.gradients.engines.entries.products`, the weight paths): other
modules may sit anywhere in the net. What cannot be seen before running (a loss that is not a
mean of per-sample losses, a model that mixes samples, a weight used outside its module) is
caught by the first mini-batch's check (:mod:`~sgdnoise.gradients.engines.entries.check`).
"""

from __future__ import annotations

from torch import nn

from sgdnoise.gradients.selection import ParameterSelection

SUPPORTED_MODULES = (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


def unsupported_reason(model: nn.Module, selection: ParameterSelection) -> str | None:
    """Why the entries engine cannot take ``model`` for the entries of ``selection``, or ``None``:
    an entry of another module (or of a parameter other than ``weight``/``bias``), a Conv2d with
    non-zero padding modes, a BatchNorm without running statistics (whose samples are not
    independent)."""
    modules = dict(model.named_modules())
    for name in selection.names:
        owner, _, attr = name.rpartition(".")
        module = modules.get(owner)
        if not isinstance(module, SUPPORTED_MODULES) or attr not in ("weight", "bias"):
            supported = [m.__name__ for m in SUPPORTED_MODULES]
            return f"parameter {name} belongs to a {type(module).__name__}, not one of {supported}"
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            return f"{owner} uses padding_mode={module.padding_mode!r} (only 'zeros' is supported)"
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.running_mean is None:
            return f"{owner} has no running statistics, so samples are not independent"
    return None
