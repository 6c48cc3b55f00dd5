"""Per-seed linear layers on stacked tensors against the unbatched layer, one seed at a time, bit for bit:
the forward ``F.linear`` and the gradients autograd gives one layer, for products below and above the
size where ``torch.bmm`` changes kernel, aligned and unaligned operands, float32 and float64."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import vmap

from sgdnoise.dynamics.networks.seedwise import SeedLinearMode, seedwise_mm

# (seeds, batch, in, out): tiny (< 400 multiply-adds), large and 64-byte aligned rows, large but unaligned
SHAPES = [(3, 5, 7, 3), (3, 16, 32, 8), (4, 5, 33, 10)]


def _stacked(shape, dtype, seed=0):
    s, b, d_in, d_out = shape
    gen = torch.Generator().manual_seed(seed)

    def draw(*size):  # a view one element into a larger buffer: not 64-byte aligned
        return torch.randn(math.prod(size) + 1, generator=gen, dtype=dtype)[1:].view(*size)

    return draw(s, b, d_in), draw(s, d_out, d_in), draw(s, d_out)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_seedwise_product_rounds_as_the_unbatched_layer(shape, dtype):
    x, w, b = _stacked(shape, dtype)
    out = seedwise_mm(x, w.transpose(1, 2), b)
    plain = seedwise_mm(x, w.transpose(1, 2))
    for s in range(shape[0]):
        assert torch.equal(out[s], F.linear(x[s].clone(), w[s].clone(), b[s].clone()))
        assert torch.equal(plain[s], F.linear(x[s].clone(), w[s].clone()))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_linear_under_vmap_has_the_unbatched_gradients(shape, dtype):
    x, w, b = _stacked(shape, dtype)
    upstream = torch.randn(shape[0], shape[1], shape[3], generator=torch.Generator().manual_seed(1), dtype=dtype)

    def seed_loss(xs, ws, bs, gs):
        with SeedLinearMode():
            return (F.linear(xs, ws, bs) * gs).sum()

    leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
    grads = torch.autograd.grad(vmap(seed_loss)(*leaves, upstream).sum(), leaves)
    for s in range(shape[0]):
        one = [t[s].clone().requires_grad_(True) for t in (x, w, b)]
        expected = torch.autograd.grad(F.linear(*one), one, upstream[s])
        assert all(torch.equal(g[s], e) for g, e in zip(grads, expected)), s
