"""The data adapter: every accepted form gives the same points, and bad data is refused."""

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import as_data_source, as_indexed_source

X = torch.arange(20.0).reshape(10, 2)
Y = torch.arange(10) % 3


class Pairs(Dataset):
    """A plain map-style dataset of (x, y) pairs."""

    def __len__(self):
        return len(X)

    def __getitem__(self, i):
        return X[i], Y[i]


class Stream(IterableDataset):
    def __iter__(self):
        return iter(zip(X, Y, strict=True))


INDEXED = {
    "pair": (X, Y),
    "list": [X, Y],
    "tensor_dataset": TensorDataset(X, Y),
    "dataset": Pairs(),
    "loader": DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True),
}


@pytest.mark.parametrize("form", INDEXED)
def test_indexed_forms_take_the_same_points(form):
    source = as_data_source(INDEXED[form])
    assert source.indexed and source.size == 10
    idx = torch.tensor([7, 0, 7, 3])
    x, y = source.take(idx)
    assert torch.equal(x, X[idx]) and torch.equal(y, Y[idx])
    xs, ys = source.tensors()
    assert torch.equal(xs, X) and torch.equal(ys, Y)


@pytest.mark.parametrize("form", ["pair", "dataset", "batches", "stream"])
def test_chunks_cover_every_point_once(form):
    data = {
        "pair": (X, Y),
        "dataset": Pairs(),
        "batches": [(X[:4], Y[:4], "extra field"), (X[4:], Y[4:])],
        "stream": DataLoader(Stream(), batch_size=4),
    }[form]
    source = as_data_source(data)
    chunks = list(source.chunks(4))
    assert torch.equal(torch.cat([c[0] for c in chunks]), X) and torch.equal(torch.cat([c[1] for c in chunks]), Y)
    assert all(len(c[0]) <= 6 for c in chunks)
    xs, ys = source.tensors()
    assert torch.equal(xs, X) and torch.equal(ys, Y)


def test_a_loader_is_walked_as_it_is():
    loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=False)
    sizes = [len(x) for x, _ in as_data_source(loader).chunks(100)]
    assert sizes == [3, 3, 3, 1]


def test_batches_only_data_cannot_be_taken_by_index():
    source = as_data_source([(X[:4], Y[:4]), (X[4:], Y[4:])])
    assert not source.indexed and source.size is None
    with pytest.raises(InvalidInputError, match="taken by index"):
        source.take(torch.tensor([0]))
    with pytest.raises(InvalidInputError, match="taken by index"):  # refused on entry by a layer that indexes
        as_indexed_source([(X[:4], Y[:4]), (X[4:], Y[4:])])


@pytest.mark.parametrize("form", INDEXED)
def test_indexed_source_takes_what_can_be_indexed(form):
    x, y = as_indexed_source(INDEXED[form]).take(torch.tensor([4, 1]))
    assert torch.equal(x, X[[4, 1]]) and torch.equal(y, Y[[4, 1]])


@pytest.mark.parametrize(
    "data, message",
    [
        ((X, Y[:5]), "same leading"),
        ((X[:0], Y[:0]), "non-empty"),
        (iter([(X, Y)]), "one-shot iterator"),
        ("digits", "must be a pair"),
        (TensorDataset(X), "must be \\(x, y\\) pairs"),
    ],
)
def test_bad_data_is_refused_with_what_to_pass(data, message):
    with pytest.raises(InvalidInputError, match=message):
        as_data_source(data)


def test_a_bad_batch_is_named():
    with pytest.raises(InvalidInputError, match="each batch must be"):
        list(as_data_source([X, Y, X]).chunks(4))
