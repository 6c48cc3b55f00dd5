"""SGD's own per-step variance ``η² Tr Σ_B`` against brute-force per-sample gradients."""

import pytest
import torch.nn.functional as F

from sgdnoise.dynamics import sgd_noise_variance, zhu_network_dynamics

from .zhu_reference import N_POINTS, brute_force_sample_gradients


def test_default_noise_variance_is_sgd_total_variance(setup):
    """η² Tr Σ_B with Σ_B = (N − B)/(B(N − 1)) Σ (batches without replacement), Σ by brute force."""
    model, x, y = setup
    lr, batch = 0.2, 4
    g = brute_force_sample_gradients(model, x, y)
    trace_sigma = (g - g.mean(0)).square().sum() / N_POINTS
    expected = lr**2 * (N_POINTS - batch) / (batch * (N_POINTS - 1)) * trace_sigma
    assert sgd_noise_variance(model, F.cross_entropy, (x, y), lr=lr, batch_size=batch) == pytest.approx(
        float(expected), rel=1e-10
    )
    run = zhu_network_dynamics(
        model, F.cross_entropy, (x, y), seeds=[0], variants=["isotropic"], lr=lr, n_steps=1, batch_size=batch
    )
    assert run.noise_variance == pytest.approx(float(expected), rel=1e-10)
