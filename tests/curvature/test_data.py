"""Chunked dataset averages: the weights are the chunk sizes, every data form gives the same mean."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sgdnoise.curvature.data import data_source, dataset_concat, dataset_mean, one_chunk
from sgdnoise.errors import InvalidInputError

from .conftest import PairDataset

CPU = torch.device("cpu")


def test_tensor_pair_chunks_and_weighted_mean_equal_full_mean():
    x, y = torch.arange(10.0).unsqueeze(1), torch.zeros(10)
    source = data_source((x, y), 4)
    assert [c[0].shape[0] for c in source.chunks(4, CPU)] == [4, 4, 2]
    assert float(dataset_mean(source, 4, CPU, lambda xs, ys: xs.mean())) == pytest.approx(4.5)
    assert torch.equal(dataset_concat(source, 3, CPU, lambda xs, ys: xs), x)


@pytest.mark.parametrize("form", ["loader", "dataset", "batches"])
def test_every_data_form_gives_the_mean_of_the_tensor_pair(form):
    x, y = torch.randn(13, 2, dtype=torch.float64), torch.randn(13, dtype=torch.float64)
    data = {
        "loader": DataLoader(TensorDataset(x, y), batch_size=5),
        "dataset": PairDataset(x, y),
        "batches": [(x[:6], y[:6]), (x[6:], y[6:])],
    }[form]
    fn = lambda xs, ys: (xs.sum(1) * ys).mean()  # noqa: E731
    got = dataset_mean(data_source(data, 4), 4, CPU, fn)
    assert torch.allclose(got, (x.sum(1) * y).mean(), rtol=1e-14, atol=0)


def test_one_chunk_only_when_all_points_are_in_memory_and_fit_in_a_chunk():
    x, y = torch.randn(8, 2), torch.randn(8)
    assert one_chunk(data_source((x, y), 8), 8)
    assert not one_chunk(data_source((x, y), 7), 7)
    assert one_chunk(data_source(PairDataset(x, y), 8), 8)
    assert not one_chunk(data_source(DataLoader(TensorDataset(x, y), batch_size=8), 8), 8)
    assert not one_chunk(data_source([(x, y)], 8), 8)


def test_bad_data_is_refused():
    x = torch.randn(3, 2)
    with pytest.raises(InvalidInputError, match="same leading"):
        data_source((x, torch.zeros(4)), 2)
    with pytest.raises(InvalidInputError, match="one-shot iterator"):
        data_source(((x, x) for _ in range(2)), 2)
    with pytest.raises(InvalidInputError, match="chunk_size"):
        data_source((x, x), 0)
    with pytest.raises(InvalidInputError, match="no batches"):
        dataset_mean(data_source([], 2), 2, CPU, lambda a, b: a)
    with pytest.raises(InvalidInputError, match="no samples"):
        dataset_mean(data_source([(x[:0], x[:0])], 2), 2, CPU, lambda a, b: a.sum())
