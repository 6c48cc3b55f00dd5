"""Synthetic generators follow their stated laws and are reproducible."""

import numpy as np
import pytest
import torch

from sgdnoise.data import gaussian_mixture, load_dataset, teacher_student
from sgdnoise.errors import ConfigError


def test_gaussian_mixture_classes_are_unit_gaussians_around_centres():
    d = gaussian_mixture(6000, num_classes=3, dim=4, separation=5.0, seed=2, split="all")
    x, y = d.inputs.double(), d.targets
    assert torch.bincount(y).tolist() == [2000, 2000, 2000]
    for c in range(3):
        xc = x[y == c]
        cov = torch.cov(xc.T)
        # 2000 points: entries of the sample covariance have sd ≈ sqrt(2/2000) ≈ 0.03; allow 5 sd.
        torch.testing.assert_close(cov, torch.eye(4, dtype=torch.float64), atol=0.16, rtol=0)
    centres = torch.stack([x[y == c].mean(0) for c in range(3)])
    # E|μ_c − μ_c'|² = 2·separation² = 50; with 4 dims this varies a lot, so only check the scale.
    assert 5 < float(torch.cdist(centres, centres).max()) ** 2 < 300


def test_teacher_student_noise_level_matches_linear_least_squares():
    d = teacher_student(4000, dim=5, hidden=0, noise=0.3, seed=4, split="all")
    x, y = d.inputs.double().numpy(), d.targets.double().numpy()
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual_sd = (y - x @ coef).std()
    # Linear teacher: the least-squares residual is the label noise; sd of an sd estimate ≈ 0.3/sqrt(2·4000).
    assert abs(residual_sd - 0.3) < 0.02
    assert d.info.task == "regression" and d.targets.shape == (4000, 1)


def test_generators_are_reproducible_and_registered():
    a = load_dataset("teacher_student", num_samples=100, hidden=8, outputs=2, seed=9)
    b = teacher_student(100, hidden=8, outputs=2, seed=9)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) and a.targets.shape == (80, 2)
    c = gaussian_mixture(100, seed=9)
    assert not torch.equal(c.inputs, gaussian_mixture(100, seed=10).inputs)


@pytest.mark.parametrize(
    "make, word",
    [
        (lambda: gaussian_mixture(0), "num_samples must be an int ≥ 1; got 0"),
        (lambda: gaussian_mixture(10, num_classes=1), "num_classes must be an int ≥ 2; got 1"),
        (lambda: gaussian_mixture(10, dim=2.0), "dim must be an int ≥ 1; got 2.0"),
        (lambda: teacher_student(10, outputs=0), "outputs must be an int ≥ 1; got 0"),
    ],
)
def test_bad_sizes_are_named(make, word):
    with pytest.raises(ConfigError, match=word):
        make()
