"""The VAE's ELBO-gradient noise on the MNIST sample, at tiny size; its data and loss against
hand-written references."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.experiments.generative import VaeNoiseConfig, run_vae_noise, vae_dataset
from sgdnoise.models import build_model, negative_elbo, vae_inputs


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    yield


def test_vae_data_has_one_fixed_draw_per_point():
    a = vae_dataset(latent_dim=3, max_points=50)
    b = vae_dataset(latent_dim=3, max_points=50)
    test = vae_dataset(latent_dim=3, split="test", max_points=50)
    assert a.inputs.shape == (50, 784 + 3) and a.targets.shape == (50, 784) and a.info.num_outputs == 784
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.inputs[:, :784], a.targets)
    assert float(a.targets.min()) >= 0 and float(a.targets.max()) <= 1
    assert not torch.allclose(a.inputs[:, 784:], test.inputs[:, 784:])  # the splits draw their own ε
    assert not torch.equal(a.inputs[:, 784:], vae_dataset(latent_dim=3, max_points=50, seed=1).inputs[:, 784:])
    with pytest.raises(InvalidInputError, match="floats in"):
        vae_inputs(torch.full((2, 4), 3.0), 2)


def test_negative_elbo_against_its_formula_and_eps_only_fixed_in_eval():
    torch.manual_seed(0)
    model = build_model("vae", input_shape=(6 + 2,), num_classes=6, latent_dim=2, hidden=5).double().eval()
    x = torch.rand(4, 6, dtype=torch.float64)
    rows = vae_inputs(x, 2, seed=3)
    out = model(rows)
    mu, log_var = model.mean(model.encoder(x)), model.log_var(model.encoder(x))
    z = mu + (0.5 * log_var).exp() * rows[:, 6:]
    y = torch.sigmoid(model.decoder(z))
    log_px = (x * y.log() + (1 - x) * (1 - y).log()).sum(1)
    kl = 0.5 * (mu**2 + log_var.exp() - 1 - log_var).sum(1)  # KL(N(μ, σ²) ‖ N(0, 1))
    torch.testing.assert_close(negative_elbo(out, x), (kl - log_px).mean())
    torch.testing.assert_close(model(rows), out)  # eval: the rows' ε
    model.train()
    assert not torch.allclose(model(rows), model(rows))  # training: fresh ε each call
    assert F.mse_loss(model(rows)[:, 6:], out[:, 6:]) == 0  # μ, log σ² do not depend on ε
    with pytest.raises(ConfigError, match="input_shape=\\(8,\\)"):
        build_model("vae", input_shape=(1, 28, 28), num_classes=6, latent_dim=2)
    with pytest.raises(InvalidInputError, match="negative_elbo takes"):
        negative_elbo(out[:, :7], x)


def test_run_vae_noise_tiny(tmp_path):
    config = VaeNoiseConfig(
        latent_dim=3, hidden=8, epochs=1, train_batch_size=20, batch_size=8, num_batches=20, per_layer=2, max_points=120
    )
    result = run_vae_noise(config)
    assert len(result.fits) == 2 * 10 and result.samples.shape == (20, 20)  # 5 Linear layers × (weight, bias)
    assert set(result.fits["layer"]) >= {"encoder.0.weight", "mean.bias", "log_var.weight", "decoder.2.bias"}
    assert result.training["train_elbo"] < 0 and np.isfinite(result.training["test_elbo"])
    table = result.table()
    assert list(table.columns[:3]) == ["model", "data", "batch_size"] and table.loc[0, "entries"] > 0
    paths = result.write(tmp_path)
    assert {"fits", "table", "manifest", "samples", "histograms"} <= set(paths)
    assert pd.read_csv(paths["table"]).loc[0, "model"] == "VAE"
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["config"]["latent_dim"] == 3 and manifest["result"]["table"][0]["batch_size"] == 8
    with pytest.raises(ConfigError, match="num_batches"):
        VaeNoiseConfig(num_batches=5)
