"""The private torch operators sgdnoise calls: each must still exist and equal, bit for bit,
the public autograd result it stands for. A failure here means a torch upgrade changed one."""

import pytest
import torch

from sgdnoise.plumbing.private_ops import log_softmax_backward


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_softmax_backward_is_autograds_own(dtype):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 7, 11, generator=g, dtype=dtype, requires_grad=True)
    upstream = torch.randn(5, 7, 11, generator=g, dtype=dtype)
    log_p = torch.log_softmax(z, dim=-1)
    (expected,) = torch.autograd.grad(log_p, z, upstream)
    assert torch.equal(log_softmax_backward(upstream, log_p.detach(), -1), expected)
