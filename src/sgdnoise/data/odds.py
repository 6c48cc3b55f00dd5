"""ODDS outlier-detection ``.mat`` files (Speech, Ionosphere, Cardio, …).

Each file holds ``X`` (n × d features) and ``y`` (n × 1, 1 = outlier, 0 = inlier). Battash et
al. train a 3-layer ReLU MLP on them as binary classification (the escape experiments), so
they load as two-class data with standardised features. MATLAB v7.3 files (HDF5) are not
readable by SciPy; re-save them as v7 or convert to ``.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sgdnoise.data.dataset import Split, TensorData, build_tensor_data
from sgdnoise.errors import DataFileError

ODDS_URL = "https://odds.cs.stonybrook.edu"
ODDS_NAMES = ("speech", "ionosphere", "cardio")


def load_odds(
    path: str | Path,
    *,
    split: Split = "train",
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    name: str | None = None,
) -> TensorData:
    """An ODDS ``.mat`` file as features ``(N, d)`` and labels 0 (inlier) / 1 (outlier)."""
    import scipy.io

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileError(
            f"no ODDS file at {path}: download {path.name} from {ODDS_URL} (the dataset's page) and save it there"
        )
    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError as exc:
        raise DataFileError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which SciPy cannot read: "
            "re-save it with save -v7, or convert it to .npz"
        ) from exc
    except Exception as exc:
        raise DataFileError(f"cannot read {path} as a .mat file: {exc}") from exc
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        raise DataFileError(
            f"{path} lacks {missing}: an ODDS file holds 'X' (features) and 'y' (0/1 labels); it has "
            f"{sorted(k for k in mat if not k.startswith('__'))}"
        )
    x = np.asarray(mat["X"], dtype=np.float64)
    y = np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise DataFileError(f"{path}: X must be (n, d) and y have n entries; got X {x.shape}, y {y.shape}")
    return build_tensor_data(
        name or path.stem,
        x,
        y.astype(np.int64),
        task="classification",
        source=f"ODDS file {path}",
        class_names=("inlier", "outlier"),
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
    )
