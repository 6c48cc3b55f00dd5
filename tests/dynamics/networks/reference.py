"""The reference every ensemble test compares with: the seed-by-seed loop a user would write — copy
the model, ``torch.optim.SGD`` (no momentum, no weight decay), one mini-batch per step drawn one
step at a time from the seed's own generator by the package's sampling rule."""

import copy

import torch
from torch import nn

from sgdnoise.plumbing import sample_batch_indices


def sgd_loop(model, loss_fn, data, seed, *, lr, batch_size, steps):
    """Plain SGD on a copy of ``model`` for ``steps`` steps of seed ``seed``'s batches.

    Returns the final ``{name: parameter}``, the loss of every step and the flat parameters after it."""
    x, y = data
    net = copy.deepcopy(model)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    losses, path = [], []
    for _ in range(steps):
        idx = sample_batch_indices(len(x), batch_size, 1, gen)[0]
        loss = loss_fn(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        path.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    return {k: v.detach() for k, v in net.named_parameters()}, losses, path


def assert_equals_loop(result, model, loss_fn, data, *, lr, batch_size, steps):
    """Every seed of an ensemble ``result`` equals :func:`sgd_loop` bit for bit."""
    for i, s in enumerate(result.seeds):
        ref, _, _ = sgd_loop(model, loss_fn, data, s, lr=lr, batch_size=batch_size, steps=steps)
        for name, p in ref.items():
            assert torch.equal(result.params[name][i], p), (s, name)


class Wrapped(nn.Module):
    """An MLP behind a custom forward: not a plain Sequential, so only the generic path runs it."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)
