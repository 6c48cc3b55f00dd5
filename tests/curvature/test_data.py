import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sgdnoise.curvature.data import check_data, dataset_concat, dataset_mean, iter_batches
from sgdnoise.errors import InvalidInputError


def test_tensor_pair_chunks_and_weighted_mean_equal_full_mean():
    x, y = torch.arange(10.0).unsqueeze(1), torch.zeros(10)
    chunks = list(iter_batches((x, y), 4, torch.device("cpu")))
    assert [c[0].shape[0] for c in chunks] == [4, 4, 2]
    mean = dataset_mean((x, y), 4, torch.device("cpu"), lambda xs, ys: xs.mean())
    assert float(mean) == pytest.approx(4.5)
    assert torch.equal(dataset_concat((x, y), 3, torch.device("cpu"), lambda xs, ys: xs), x)


def test_dataloader_gives_the_same_mean_as_the_tensor_pair():
    x, y = torch.randn(13, 2), torch.randn(13)
    loader = DataLoader(TensorDataset(x, y), batch_size=5)
    fn = lambda xs, ys: (xs.sum(1) * ys).mean()  # noqa: E731
    assert torch.allclose(dataset_mean(loader, 99, torch.device("cpu"), fn), (x.sum(1) * y).mean())


def test_bad_data_is_refused():
    x = torch.randn(3, 2)
    with pytest.raises(InvalidInputError, match="same non-zero first dimension"):
        check_data((x, torch.zeros(4)), 2)
    with pytest.raises(InvalidInputError, match="one-shot iterator"):
        check_data(((x, x) for _ in range(2)), 2)
    with pytest.raises(InvalidInputError, match="chunk_size"):
        check_data((x, x), 0)
    with pytest.raises(InvalidInputError, match="no samples"):
        dataset_mean([], 2, torch.device("cpu"), lambda a, b: a)
