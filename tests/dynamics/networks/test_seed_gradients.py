"""The generic path of sgd_ensemble — vmap(loss ∘ functional_call) over the seeds, one autograd call —
for a network the direct path cannot run, against the seed-by-seed torch.optim.SGD loop. Exact equality."""

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import sgd_ensemble
from sgdnoise.models import MLP

from .reference import Wrapped, assert_equals_loop


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generic_vmap_path_equals_loop(dtype):
    x, y = load_dataset("digits").tensors
    x, y = x[:200].to(dtype), y[:200]
    torch.manual_seed(3)
    model = Wrapped(MLP((1, 8, 8), 10, depth=2, width=20).to(dtype))
    res = sgd_ensemble(model, F.cross_entropy, (x, y), seeds=(2, 5, 17), lr=0.2, batch_size=12, steps=12, block_steps=5)
    assert_equals_loop(res, model, F.cross_entropy, (x, y), lr=0.2, batch_size=12, steps=12)
