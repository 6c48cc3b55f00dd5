"""collect_noise on the paper's model kinds equals the brute-force loop (one autograd.grad per
mini-batch): a BERT classifier on padded token ids and the VAE's negative ELBO, float64."""

from __future__ import annotations

import warnings

import pytest
import torch

from sgdnoise.gradients import collect_noise
from sgdnoise.models import build_model, negative_elbo, seeded_model, vae_inputs

from .cases import brute_force_noise


def padded_ids(n: int, length: int, vocab: int, seed: int) -> torch.Tensor:
    """``[CLS]=2 … [SEP]=3`` then padding 0, lengths 3…length."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(n, length, dtype=torch.int64)
    for row, size in enumerate(torch.randint(3, length + 1, (n,), generator=g).tolist()):
        ids[row, :size] = torch.randint(5, vocab, (size,), generator=g)
        ids[row, 0], ids[row, size - 1] = 2, 3
    return ids


def check(result, reference, tol=1e-10):
    full, noise = reference
    for name in noise:
        torch.testing.assert_close(result.full_grad[name], full[name], atol=tol, rtol=0, msg=name)
        torch.testing.assert_close(result.noise[name], noise[name], atol=tol, rtol=0, msg=name)


@pytest.mark.parametrize("name", ["bert_mini", "tiny_bert"])
def test_bert_noise_of_two_mini_batches_equals_the_loop(name, loss_fn):
    """Both run the loop engine: the entries engine takes no embedding, and the padding mask's
    data-dependent branch inside transformers stops vmap (auto tries it for the tiny one)."""
    options = {"num_layers": 1, "hidden_size": 16, "intermediate_size": 32} if name == "tiny_bert" else {}
    model = seeded_model(name, input_shape=(9,), num_classes=2, vocab_size=30, seed=0, **options).double()
    x, y = padded_ids(24, 9, 30, seed=1), torch.randint(0, 2, (24,), generator=torch.Generator().manual_seed(2))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = collect_noise(model, loss_fn, (x, y), batch_size=6, num_batches=2, seed=5)
    check(result, brute_force_noise(model, loss_fn, (x, y), result.batch_indices))
    assert result.method == "loop"
    if name == "bert_mini":
        # positions past the sequences get no gradient: their noise is exactly zero (degenerate entries)
        assert float(result.noise["bert.bert.embeddings.position_embeddings.weight"][:, 9:].abs().max()) == 0.0


@pytest.mark.parametrize("method", ["loop", "vmap", "entries"])
def test_vae_elbo_noise_equals_the_loop(method):
    """ε is part of each point, so a mini-batch's ELBO gradient is a function of the mini-batch."""
    model = build_model("vae", input_shape=(12 + 3,), num_classes=12, latent_dim=3, hidden=7).double()
    pixels = torch.rand(20, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    data = (vae_inputs(pixels, 3, seed=1), pixels)
    result = collect_noise(model, negative_elbo, data, batch_size=5, num_batches=2, seed=2, method=method)
    assert result.method == method
    check(result, brute_force_noise(model, negative_elbo, data, result.batch_indices))
