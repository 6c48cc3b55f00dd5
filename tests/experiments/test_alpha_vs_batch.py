import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.experiments.alpha_vs_batch import (
    AlphaBatchConfig,
    alpha_against_batch,
    bootstrap_alpha,
    default_batch_sizes,
    run_alpha_vs_batch,
)
from sgdnoise.stable import fit_sas, sample_sas


def test_default_batch_sizes_are_powers_of_two_up_to_a_quarter_of_the_data():
    assert default_batch_sizes(1437) == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert default_batch_sizes(3) == (1,)


def test_bootstrap_refits_each_resampling_as_a_loop_would():
    samples = sample_sas(np.array([[1.3], [1.8]]), scale=1.0, size=(2, 200), seed=1)
    boot = bootstrap_alpha(samples, n_boot=7, seed=3)
    assert boot.shape == (7, 2)
    # the same resamplings, drawn again and fitted one at a time
    picks = torch.randint(0, 200, (7, 200), generator=torch.Generator().manual_seed(3))
    for b in range(7):
        np.testing.assert_allclose(boot[b], fit_sas(samples[:, picks[b].numpy()]).alpha, rtol=1e-6)


def test_bootstrap_spread_shrinks_like_one_over_root_k():
    # the bootstrap standard deviation of α̂ at K and 4K: ratio ≈ 2 for a √K-consistent estimator
    wide = sample_sas(np.full((40, 1), 1.5), scale=1.0, size=(40, 1600), seed=0)
    sd_small = bootstrap_alpha(wide[:, :400], n_boot=40, seed=0).std(axis=0).mean()
    sd_large = bootstrap_alpha(wide, n_boot=40, seed=0).std(axis=0).mean()
    assert 1.6 < sd_small / sd_large < 2.5


class _Projection(nn.Module):
    """Per-sample loss w·ξ_i: the mini-batch noise is exactly the centred mean of B values ξ_i."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2))

    def forward(self, x):
        return x @ self.w


def _mean_output(output, target):
    return output.mean()


def test_heavy_tailed_terms_stay_heavy_and_gaussian_terms_stay_gaussian_at_every_b():
    # column 0 of ξ is SαS with α = 1.2 (a sum of B of them is SαS with the same α), column 1 Gaussian
    n = 20000
    heavy = sample_sas(np.full(n, 1.2), scale=1.0, size=n, seed=0)
    gauss = np.random.default_rng(0).standard_normal(n)
    x = torch.tensor(np.stack([heavy, gauss], axis=1))
    model = _Projection().double()
    out = alpha_against_batch(
        model, _mean_output, (x, torch.zeros(n)), batch_sizes=(1, 4), num_batches=1000, per_layer=2, n_boot=20
    )
    assert list(out.layers["batch_size"]) == [1, 4]
    rows = out.entries.set_index(["batch_size", "name"])
    for b in (1, 4):
        assert rows.loc[(b, "w[0]"), "alpha"] == pytest.approx(1.2, abs=0.15)  # RMSE at K = 1000 is ≈ 0.05
        assert rows.loc[(b, "w[0]"), "better_law"] == "sas"
        assert rows.loc[(b, "w[1]"), "alpha"] > 1.85
        assert rows.loc[(b, "w[1]"), "alpha_lo"] <= rows.loc[(b, "w[1]"), "alpha"] <= rows.loc[(b, "w[1]"), "alpha_hi"]
        assert np.isnan(rows.loc[(b, "w[1]"), "beta"])  # β is not reported near α = 2
    assert set(out.entries["class"]) == {"ordinary"} and (out.layers["n_spike_with_tail"] == 0).all()
    assert torch.equal(model.w.detach(), torch.zeros(2, dtype=torch.float64))


def test_an_atom_with_a_tail_is_counted_as_such():
    # ξ_i is 0 for 30% of the points and Cauchy otherwise: at B = 1 the noise is an atom plus a tail
    n = 5000
    rng = np.random.default_rng(2)
    xi = np.where(rng.random(n) < 0.3, 0.0, rng.standard_cauchy(n))
    x = torch.tensor(np.stack([xi, rng.standard_normal(n)], axis=1))
    out = alpha_against_batch(
        _Projection().double(),
        _mean_output,
        (x, torch.zeros(n)),
        batch_sizes=(1,),
        num_batches=500,
        per_layer=2,
        n_boot=5,
    )
    rows = out.entries.set_index("name")
    assert rows.loc["w[0]", "class"] == "spike_with_tail"
    assert rows.loc["w[0]", "atom_weight"] == pytest.approx(0.3, abs=0.07)  # binomial SD at K = 500: 0.02
    assert out.layers["n_spike_with_tail"].iloc[0] == 1


def test_given_weights_are_measured_and_the_model_gets_its_own_back():
    n = 4000
    x = torch.tensor(np.random.default_rng(1).standard_normal((n, 2)))
    model = _Projection().double()
    before = model.w.detach().clone()
    states = {"a": {"w": torch.ones(2, dtype=torch.float64)}, "b": {"w": -torch.ones(2, dtype=torch.float64)}}
    out = alpha_against_batch(
        model,
        _mean_output,
        (x, torch.zeros(n)),
        batch_sizes=(2,),
        num_batches=50,
        per_layer=2,
        weights=states,
        n_boot=5,
    )
    assert list(out.layers["weights"]) == ["a", "b"]
    assert torch.equal(model.w.detach(), before)
    with pytest.raises(InvalidInputError, match="batch_sizes"):
        alpha_against_batch(model, _mean_output, (x, torch.zeros(n)), batch_sizes=(), num_batches=50, per_layer=2)


def test_recipe_writes_tables_and_figure_for_trained_and_initial_weights(tmp_path):
    config = AlphaBatchConfig(epochs=1, batch_sizes=(1, 16), num_batches=40, per_layer=2, n_boot=5)
    result = run_alpha_vs_batch(config)
    assert set(result.layers["weights"]) == {"trained", "init"}
    assert set(result.layers["batch_size"]) == {1, 16}
    paths = result.write(tmp_path)
    assert pd.read_csv(paths["layers"]).shape[0] == len(result.layers)
    assert paths["figure"].stat().st_size > 0
    with pytest.raises(ConfigError, match="batch_sizes"):
        AlphaBatchConfig(batch_sizes=(0, 4))


def _two_states_at_two_sizes(n: int = 2000):
    """A tiny sweep: two sets of weights of the projection model, B = 1 and 4, K = 50."""
    x = torch.tensor(np.random.default_rng(4).standard_t(3, size=(n, 2)))
    states = {"a": {"w": torch.tensor([1.0, 0.5])}, "b": {"w": -torch.ones(2)}}
    states = {name: {"w": s["w"].double()} for name, s in states.items()}
    args = (_Projection().double(), _mean_output, (x, torch.zeros(n)))
    return args, dict(batch_sizes=(4, 1), num_batches=50, per_layer=2, weights=states, n_boot=5)


def test_the_sweep_split_into_tasks_gives_the_numbers_of_the_loop(split_in_process):
    from sgdnoise.parallel import use_executor

    args, kwargs = _two_states_at_two_sizes()
    here = alpha_against_batch(*args, **kwargs)
    with use_executor(split_in_process):
        split = alpha_against_batch(*args, **kwargs)
    assert split_in_process.labels[:4] == ["weights=a B=4", "weights=a B=1", "weights=b B=4", "weights=b B=1"]
    assert list(split.layers["batch_size"]) == [4, 1, 4, 1] and list(split.layers["weights"]) == ["a", "a", "b", "b"]
    pd.testing.assert_frame_equal(here.entries, split.entries, check_exact=True)
    pd.testing.assert_frame_equal(here.layers, split.layers, check_exact=True)
