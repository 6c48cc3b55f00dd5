import torch
from torch.nn import functional as F

from sgdnoise.curvature import per_sample_gradients

from .conftest import classification_data, small_mlp


def test_per_sample_gradients_match_a_loop_of_backward_calls():
    model, (x, y) = small_mlp(), classification_data(n=13)
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        rows.append(torch.cat([model[2].weight.grad.reshape(-1), model[2].bias.grad]))
    got = per_sample_gradients(model, F.cross_entropy, (x, y), params="2.*", chunk_size=5)
    assert got.shape == (13, 21)
    assert torch.allclose(got, torch.stack(rows), atol=1e-12)
