"""The private torch operators sgdnoise calls, in one place.

Private operators can change or vanish in any torch release; a change breaks this module only,
and ``tests/plumbing/test_private_ops.py`` fails loudly on it (each operator against the public
autograd result it must equal, bit for bit). Each is kept only where it pays:

- :func:`log_softmax_backward` — ``torch._log_softmax_backward_data``, the kernel autograd
  runs for ``log_softmax``. The SGD ensemble forms the cross-entropy gradient with it so that
  every seed's step is bit-identical to ``torch.optim.SGD`` on one model (a composite of public
  operators rounds differently).
"""

from __future__ import annotations

import torch


def log_softmax_backward(grad: torch.Tensor, log_p: torch.Tensor, dim: int) -> torch.Tensor:
    """``∂/∂z`` of ``log_softmax(z, dim)`` applied to ``grad``, given its output ``log_p``:
    ``grad − exp(log_p)·Σ_dim grad``, by autograd's own kernel (same rounding)."""
    return torch._log_softmax_backward_data(grad, log_p, dim, log_p.dtype)
