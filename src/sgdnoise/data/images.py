"""Image folders: one sub-folder per class (CINIC-10, ImageNet-style exports, your own data).

Two layouts are understood::

    root/<class>/<image>                       random train/test split by ``seed``
    root/train/<class>/<image>, root/test/…    the folders define the split (CINIC-10 also
                                               has ``valid/``; ``split="train"`` reads ``train``)

Images are read with Pillow, converted to ``mode`` ("RGB" or "L") and, when ``size`` is given,
resized to ``size = (height, width)``; without ``size`` every image must have the same size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sgdnoise.data.dataset import Split, TensorData, build_tensor_data, check_split_args
from sgdnoise.errors import ConfigError, DataFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
CINIC10_URL = "https://datashare.ed.ac.uk/handle/10283/3192"


def is_image_folder(root: Path) -> bool:
    """True if ``root`` has class sub-folders holding images (directly or under ``train/``)."""
    base = root / "train" if (root / "train").is_dir() else root
    return root.is_dir() and any(_images_in(d) for d in _class_dirs(base))


def load_image_folder(
    root: str | Path,
    *,
    split: Split = "train",
    size: tuple[int, int] | None = None,
    mode: str = "RGB",
    max_per_class: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    name: str | None = None,
) -> TensorData:
    """Images ``(N, C, H, W)`` (C = 3 for RGB, 1 for L) with labels from the class folder names.

    Class names are the sorted sub-folder names (the same order in every split).
    ``max_per_class`` keeps the first ``n`` files per class (sorted by name) for quick runs.
    """
    check_split_args(split, test_fraction)
    if mode not in ("RGB", "L"):
        raise ConfigError(f"mode must be 'RGB' or 'L'; got {mode!r}")
    root = Path(root).expanduser()
    name = name or root.name
    if not root.is_dir():
        raise DataFileError(
            f"no image folder at {root}: give a folder with one sub-folder of images per class "
            f"(CINIC-10: download from {CINIC10_URL} and extract it there)"
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = _class_names(root / "train")
        x_train, y_train = _read_split(root / "train", classes, size, mode, max_per_class)
        x_test, y_test = _read_split(root / "test", classes, size, mode, max_per_class)
        test_part = (x_test, y_test)
    else:
        classes = _class_names(root)
        x_train, y_train = _read_split(root, classes, size, mode, max_per_class)
        test_part = None
    return build_tensor_data(
        name,
        x_train,
        y_train,
        task="classification",
        source=f"image folder {root}",
        class_names=classes,
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
        test_part=test_part,
    )


def _class_dirs(base: Path) -> list[Path]:
    return sorted(d for d in base.iterdir() if d.is_dir()) if base.is_dir() else []


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _class_names(base: Path) -> tuple[str, ...]:
    names = tuple(d.name for d in _class_dirs(base) if _images_in(d))
    if not names:
        raise DataFileError(f"{base} has no class sub-folders with images ({', '.join(IMAGE_SUFFIXES)})")
    return names


def _read_split(
    base: Path, classes: tuple[str, ...], size: tuple[int, int] | None, mode: str, max_per_class: int | None
) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    for label, cls in enumerate(classes):
        folder = base / cls
        files = _images_in(folder) if folder.is_dir() else []
        for path in files[:max_per_class]:
            try:
                with Image.open(path) as img:
                    img = img.convert(mode)
                    if size is not None:
                        img = img.resize((size[1], size[0]), Image.BILINEAR)
                    images.append(np.asarray(img, dtype=np.uint8))
            except (OSError, UnidentifiedImageError) as exc:
                raise DataFileError(f"cannot read image {path}: {exc}") from exc
            labels.append(label)
    if not images:
        raise DataFileError(f"{base} holds no images for the classes {classes}")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataFileError(
            f"images under {base} have different sizes {sorted(shapes)[:4]}: pass size=(height, width) to resize them"
        )
    x = np.stack(images)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return x, np.asarray(labels, dtype=np.int64)
