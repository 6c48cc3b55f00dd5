"""Image-folder loader on PNGs the test writes with Pillow."""

import numpy as np
import pytest
from PIL import Image

from sgdnoise.data import load_dataset, load_image_folder
from sgdnoise.errors import DataFileError


def _write_images(base, classes, per_class, size=(6, 5), seed=0):
    rng = np.random.default_rng(seed)
    pixels = {}
    for cls in classes:
        (base / cls).mkdir(parents=True)
        for i in range(per_class):
            arr = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            Image.fromarray(arr).save(base / cls / f"{i:03d}.png")
            pixels[(cls, i)] = arr
    return pixels


def test_flat_layout_reads_exact_pixels(tmp_path):
    pixels = _write_images(tmp_path / "imgs", ["cat", "dog"], 5)
    d = load_image_folder(tmp_path / "imgs", split="all", standardize=False)
    assert d.inputs.shape == (10, 3, 6, 5) and d.info.class_names == ("cat", "dog")
    np.testing.assert_array_equal(d.inputs[6].numpy(), pixels[("dog", 1)].transpose(2, 0, 1))
    assert d.targets.tolist() == [0] * 5 + [1] * 5
    assert len(load_image_folder(tmp_path / "imgs", seed=1)) == 8


def test_train_test_layout_defines_the_split_and_grayscale_resize(tmp_path):
    _write_images(tmp_path / "cinic-10" / "train", ["a", "b", "c"], 3)
    _write_images(tmp_path / "cinic-10" / "test", ["a", "b", "c"], 2, seed=1)
    test = load_dataset(tmp_path / "cinic-10", split="test", mode="L", size=(4, 4))
    assert test.inputs.shape == (6, 1, 4, 4) and test.info.num_classes == 3
    cinic = load_dataset("cinic10", root=tmp_path, max_per_class=2)
    assert len(cinic) == 6 and cinic.info.name == "cinic10"


def test_mixed_sizes_need_resize(tmp_path):
    _write_images(tmp_path / "x", ["a"], 2)
    Image.fromarray(np.zeros((7, 7, 3), np.uint8)).save(tmp_path / "x" / "a" / "big.png")
    with pytest.raises(DataFileError, match="size="):
        load_image_folder(tmp_path / "x")
    assert load_image_folder(tmp_path / "x", size=(3, 3), split="all").inputs.shape == (3, 3, 3, 3)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(DataFileError, match=str(tmp_path / "nope")):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DataFileError, match="no class sub-folders"):
        load_image_folder(tmp_path / "empty")
    with pytest.raises(DataFileError, match="CINIC-10"):
        load_dataset("cinic10", root=tmp_path)
