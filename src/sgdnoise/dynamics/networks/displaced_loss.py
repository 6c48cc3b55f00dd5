"""The full-data loss of a plain MLP at many single-coordinate displacements ``w* + t e_c`` at once.

For an ``nn.Sequential`` of ``Linear`` layers and parameter-free layers (ReLU, Identity, Dropout, a
leading Flatten — the models :class:`~sgdnoise.dynamics.networks.stacked_mlp.StackedMLP` takes),
moving one weight ``W_k[i, j]`` by t changes only the pre-activation ``z_k[:, i]`` of layer k, by
``t · a_k[:, j]`` (``a_k`` the layer's input at w*; a bias ``b_k[i]`` adds t). So the layers before k
are evaluated once, at w*, and kept; for R displacements of layer k the displaced ``z_k`` is the kept
one plus a rank-one column change, and the layers after k — whose weights are w*'s, shared by every
row — run on all ``R·N`` rows as one batch of ordinary matrix products. Each row's loss is
``loss_fn`` of its ``N`` outputs (``vmap`` over rows). The generic path
(:meth:`~sgdnoise.dynamics.networks.stacked_loss.StackedLoss.losses`) instead runs the whole network
with per-row weights; both give the same losses up to rounding.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import vmap

from sgdnoise.dynamics.networks.stacked_mlp import StackedMLP
from sgdnoise.plumbing import LossFn


class DisplacedLoss:
    """``losses(coords (R,), steps (R,)) -> (R,)``: ``L(w* + steps_r e_{coords_r})`` for a plain MLP.

    Build with :meth:`of` (None for any other model). ``chunk_rows`` rows are pushed through the
    layers after the displaced one at a time (memory ``chunk_rows · N · width``).
    """

    def __init__(self, model: nn.Sequential, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, chunk_rows: int):
        self.loss_fn, self.y, self.chunk_rows = loss_fn, y, chunk_rows
        self.modules = list(model.children())
        self.starts, self.owner = [], []  # per parameter tensor: flat start, (module index, is_weight)
        names = dict(model.named_children())
        start = 0
        for pname, p in model.named_parameters():
            mod_name, kind = pname.rsplit(".", 1)
            self.owner.append((self.modules.index(names[mod_name]), kind == "weight", p.shape))
            self.starts.append(start)
            start += p.numel()
        self.bounds = torch.tensor([*self.starts, start])
        self.inputs, self.outputs = {}, {}
        with torch.no_grad():
            h = x
            for k, module in enumerate(self.modules):
                if isinstance(module, nn.Linear):
                    self.inputs[k] = h
                h = module(h)
                if isinstance(module, nn.Linear):
                    self.outputs[k] = h
        self._row_loss = vmap(loss_fn, in_dims=(0, None))

    @classmethod
    def of(
        cls, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *, chunk_rows: int = 512
    ) -> DisplacedLoss | None:
        """The fast path for ``model``, or None when it is not a plain MLP."""
        if StackedMLP.of(model, loss_fn, x, y) is None or any(not p.requires_grad for p in model.parameters()):
            return None
        return cls(model, loss_fn, x, y, chunk_rows)

    def __call__(self, coords: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        coords = coords.reshape(-1).cpu()
        tensor = torch.bucketize(coords, self.bounds, right=True) - 1
        out = torch.empty(coords.numel(), dtype=torch.float64)
        with torch.no_grad():
            for t in tensor.unique().tolist():
                rows = torch.nonzero(tensor == t).flatten()
                k, is_weight, shape = self.owner[t]
                local = coords[rows] - self.starts[t]
                i = local // shape[1] if is_weight else local
                j = local % shape[1] if is_weight else None
                for part in rows.split(self.chunk_rows):
                    sel = torch.searchsorted(rows, part)
                    out[part] = self._losses(k, i[sel], None if j is None else j[sel], steps[part]).double().cpu()
        return out

    def _losses(self, k: int, i: torch.Tensor, j: torch.Tensor | None, step: torch.Tensor) -> torch.Tensor:
        z0 = self.outputs[k]
        r, n = i.numel(), z0.shape[0]
        step = step.to(z0.dtype).to(z0.device)
        z = z0.expand(r, *z0.shape).clone()
        change = step[:, None] * (self.inputs[k][:, j.to(z0.device)].T if j is not None else 1.0)
        z[torch.arange(r, device=z.device), :, i.to(z0.device)] += change
        h = z.reshape(r * n, -1)
        for module in self.modules[k + 1 :]:
            h = module(h)
        return self._row_loss(h.reshape(r, n, -1), self.y)
