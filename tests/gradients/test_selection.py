"""Parameter selection: globs, seeded random entries, and the kept entries of a collection."""

from __future__ import annotations

import torch

from sgdnoise.gradients import ParameterSelection, collect_noise, select_parameters

from .cases import make_case

SHAPES = {"a.weight": (4, 3), "a.bias": (4,), "b.weight": (2, 4), "b.bias": (2,)}


def test_globs_and_all():
    assert select_parameters(SHAPES).names == list(SHAPES)
    assert select_parameters(SHAPES, "all").names == list(SHAPES)
    sel = select_parameters(SHAPES, ["*.bias", "b.*"])
    assert sel.names == ["a.bias", "b.weight", "b.bias"] and all(i is None for i in sel.entries.values())
    assert sel.total == 4 + 8 + 2


def test_random_entries_per_layer_are_seeded_sorted_and_in_range():
    a = select_parameters(SHAPES, per_layer=3, seed=5)
    b = select_parameters(SHAPES, 3, seed=5)
    c = select_parameters(SHAPES, per_layer=3, seed=6)
    assert all(torch.equal(a.entries[n], b.entries[n]) for n in SHAPES)
    assert any(not torch.equal(a.entries[n], c.entries[n]) for n in SHAPES)
    for n, idx in a.entries.items():
        size = torch.Size(SHAPES[n]).numel()
        assert idx.numel() == min(3, size) and (idx.diff() > 0).all() and idx.min() >= 0 and idx.max() < size
    assert a.entry_labels()[:3] == [f"a.weight[{i}]" for i in a.entries["a.weight"].tolist()]
    assert ParameterSelection.from_dict(a.to_dict()).to_dict() == a.to_dict()


def test_sampled_entries_are_the_matching_entries_of_the_full_noise(loss_fn):
    model, data = make_case("mlp")
    everything = collect_noise(model, loss_fn, data, batch_size=8, num_batches=6, seed=2)
    sel = select_parameters({n: p.shape for n, p in model.named_parameters()}, "fc2.*", per_layer=4, seed=0)
    sampled = collect_noise(model, loss_fn, data, batch_size=8, num_batches=6, seed=2, params=sel)
    assert sampled.selection is sel and set(sampled.noise) == {"fc2.weight", "fc2.bias"}
    random_entries = collect_noise(model, loss_fn, data, batch_size=8, num_batches=6, seed=2, params=3)
    assert torch.equal(random_entries.batch_indices, everything.batch_indices)  # batches: seed only
    assert torch.equal(everything.batch_indices, sampled.batch_indices)
    for name, idx in sel.entries.items():
        assert sampled.noise[name].shape == (6, 4)
        torch.testing.assert_close(sampled.noise[name], everything.noise[name].flatten(1)[:, idx], atol=1e-12, rtol=0)
    matrix, labels = sampled.noise_matrix()
    assert matrix.shape == (8, 6) and labels[0].startswith("fc2.weight[")
    torch.testing.assert_close(matrix[0], sampled.noise["fc2.weight"][:, 0])
