"""Given mini-batches: checked on entry, collected exactly, and part of what identifies a run on disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.gradients import collect_noise

from .cases import brute_force_noise, make_case


def _rows(num_points: int, batch_size: int, num_batches: int, seed: int) -> torch.Tensor:
    """``num_batches`` rows of ``batch_size`` distinct points, by a random permutation per row."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(num_points, generator=gen)[:batch_size] for _ in range(num_batches)])


@pytest.mark.parametrize(("kind", "method"), [("mlp", "auto"), ("mlp", "vmap"), ("cnn", "loop"), ("resnet", "entries")])
def test_given_mini_batches_give_the_brute_force_noise(kind, method, loss_fn):
    model, data = make_case(kind)
    given = _rows(48, 6, 5, seed=len(kind))
    result = collect_noise(model, loss_fn, data, seed=0, batch_indices=given, method=method)
    assert torch.equal(result.batch_indices, given) and (result.num_batches, result.batch_size) == (5, 6)
    full, noise = brute_force_noise(model, loss_fn, data, given)
    for name in noise:
        torch.testing.assert_close(result.full_grad[name], full[name], atol=1e-10, rtol=0)
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


def test_an_array_and_agreeing_sizes_are_taken(loss_fn):
    model, data = make_case("mlp")
    given = _rows(48, 4, 3, seed=1)
    from_array = collect_noise(model, loss_fn, data, seed=0, batch_indices=given.numpy().astype(np.int32))
    agreeing = collect_noise(model, loss_fn, data, seed=0, batch_indices=given, batch_size=4, num_batches=3)
    assert from_array.batch_indices.dtype == torch.int64 and torch.equal(from_array.batch_indices, given)
    for name in from_array.noise:
        assert torch.equal(from_array.noise[name], agreeing.noise[name])


def test_the_mini_batches_of_a_seeded_run_reproduce_it(loss_fn):
    """Its batch_indices (and, for sampled entries, its selection) give the same run under any seed."""
    model, data = make_case("cnn")
    for params in (None, 3):
        seeded = collect_noise(model, loss_fn, data, batch_size=8, num_batches=6, seed=3, params=params)
        again = collect_noise(
            model,
            loss_fn,
            data,
            seed=11,
            batch_indices=seeded.batch_indices,
            params=seeded.selection if params else None,
        )
        assert again.method == seeded.method and again.chunk_size == seeded.chunk_size
        assert torch.equal(again.losses, seeded.losses)
        for name in seeded.noise:
            assert torch.equal(again.noise[name], seeded.noise[name])


def test_a_point_twice_in_a_mini_batch_needs_replacement(loss_fn):
    model, data = make_case("mlp")
    given = torch.tensor([[0, 5, 5, 7], [1, 2, 3, 4]])
    with pytest.raises(InvalidInputError, match="row 0 of batch_indices holds a point twice; pass replacement=True"):
        collect_noise(model, loss_fn, data, seed=0, batch_indices=given)
    result = collect_noise(model, loss_fn, data, seed=0, batch_indices=given, replacement=True)
    _, noise = brute_force_noise(model, loss_fn, data, given)
    assert result.replacement
    for name in noise:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    ("given", "sizes", "match"),
    [
        ([[0, 1], [2, 3]], {}, "tensor or array of point indices; got list"),
        (torch.arange(4), {}, r"two axes, \(K, B\).*got shape \(4,\)"),
        (torch.zeros(2, 2, 2, dtype=torch.int64), {}, r"got shape \(2, 2, 2\)"),
        (torch.zeros(0, 3, dtype=torch.int64), {}, r"got shape \(0, 3\)"),
        (torch.zeros(3, 0, dtype=torch.int64), {}, r"got shape \(3, 0\)"),
        (torch.zeros(2, 3), {}, "must hold integers.*float32"),
        (torch.zeros(2, 3, dtype=torch.bool), {}, "must hold integers.*bool"),
        (torch.tensor([[0, 1], [2, 48]]), {}, r"in \[0, 48\).*from 0 to 48"),
        (torch.tensor([[0, 1], [-1, 2]]), {}, r"in \[0, 48\).*from -1 to 2"),
        (torch.tensor([[0, 1], [2, 3]]), {"batch_size": 3}, "batch_size=3 disagrees with batch_indices of shape"),
        (torch.tensor([[0, 1], [2, 3]]), {"num_batches": 1}, "num_batches=1 disagrees"),
        (None, {"batch_size": 8}, "pass batch_size and num_batches.*or batch_indices"),
    ],
)
def test_bad_mini_batches_are_refused(given, sizes, match, loss_fn):
    model, data = make_case("mlp")
    with pytest.raises(InvalidInputError, match=match):
        collect_noise(model, loss_fn, data, seed=0, batch_indices=given, **sizes)


def test_given_mini_batches_identify_a_run_on_disk(tmp_path, loss_fn):
    model, data = make_case("mlp")
    given = _rows(48, 8, 4, seed=2)
    first = collect_noise(model, loss_fn, data, seed=1, batch_indices=given, out=tmp_path / "given")
    again = collect_noise(model, loss_fn, data, seed=1, batch_indices=given.clone(), out=tmp_path / "given")
    for name in first.noise:
        assert torch.equal(again.noise[name], first.noise[name])  # read back
    with pytest.raises(ConfigError, match="batch_indices_sha256"):  # other mini-batches of the same shape
        collect_noise(model, loss_fn, data, seed=1, batch_indices=_rows(48, 8, 4, seed=3), out=tmp_path / "given")
    collect_noise(model, loss_fn, data, seed=1, batch_size=8, num_batches=4, out=tmp_path / "drawn")
    with pytest.raises(ConfigError, match="batch_indices_sha256"):  # drawn from the seed is another run
        collect_noise(model, loss_fn, data, seed=1, batch_indices=given, out=tmp_path / "drawn")
