"""Entry classes on constructed samples: a pure atom, an atom plus a Cauchy tail, two bumps, SαS, Gaussian."""

import numpy as np
import pytest
import torch
from scipy import stats

from sgdnoise.errors import InvalidInputError, TooFewSamplesError
from sgdnoise.stable import classify_entries, compare_laws, sample_sas
from sgdnoise.stable.classes import find_atoms

K = 1000
ATOM = 0.3  # the spike's weight in the atom-plus-Cauchy rows


@pytest.fixture(scope="module")
def constructed():
    rng = np.random.default_rng(11)
    pure = np.full((1, K), 0.25)
    spike = np.where(rng.random((4, K)) < ATOM, 0.0, stats.cauchy.rvs(size=(4, K), random_state=rng))
    bumps = np.where(rng.random((3, K)) < 0.4, rng.normal(-3, 1, (3, K)), rng.normal(3, 1, (3, K)))
    sas = sample_sas(1.5, scale=2.0, size=(3, K), seed=12)
    gauss = rng.normal(1.0, 0.1, (3, K))
    x = np.concatenate([pure, spike, bumps, sas, gauss])
    return x, classify_entries(x)


def test_each_constructed_row_gets_its_class(constructed):
    _, frame = constructed
    expected = ["degenerate"] + ["spike_with_tail"] * 4 + ["multimodal"] * 3 + ["ordinary"] * 6
    assert frame["class"].tolist() == expected
    assert frame.atom_value[0] == 0.25 and frame.atom_weight[0] == 1.0
    assert np.isnan(frame.atom_value[5:]).all() and (frame.atom_weight[5:] == 0).all()
    assert (frame.modes[5:8] == 2).all() and frame.multimodal[5:8].all() and not frame.multimodal[8:].any()


def test_spike_weight_is_recovered_and_the_rest_is_cauchy(constructed):
    x, frame = constructed
    spikes = frame.iloc[1:5]
    assert (spikes.atom_value == 0.0).all()
    # the atom's count is Binomial(K, 0.3): 3 standard deviations are 0.043
    assert np.abs(spikes.atom_weight - ATOM).max() < 3 * np.sqrt(ATOM * (1 - ATOM) / K)
    assert (spikes.n_continuous == np.round((1 - spikes.atom_weight) * K)).all()
    laws = compare_laws(x[1:5], laws=("sas",), method="cf")
    # ≈ 700 Cauchy values per row: the cf estimator's RMSE there is ≈ 0.06, so 0.2 is > 3 SD
    assert np.abs(laws.alpha_sas - 1.0).max() < 0.2
    assert laws["class"].eq("spike_with_tail").all()


def test_tight_cluster_counts_as_an_atom():
    rng = np.random.default_rng(2)
    x = rng.standard_t(3, size=(1, K))
    x[0, :200] = 0.5 + 1e-9 * rng.standard_normal(200)  # rounding-level jitter around one value
    value, count, _ = find_atoms(torch.from_numpy(x), atom_width=1e-6)
    assert count.item() == 200 and value.item() == pytest.approx(0.5, abs=1e-8)
    frame = classify_entries(x)
    assert frame["class"][0] == "spike_with_tail" and frame.atom_weight[0] == 0.2
    assert classify_entries(x, atom_width=0.0).atom_weight[0] == 0.0  # exact ties only: no atom here


def test_a_few_chance_ties_are_not_an_atom():
    x = np.round(np.random.default_rng(3).normal(size=(2, K)), 3)  # rounding makes ties, none large
    assert classify_entries(x)["class"].eq("ordinary").all()


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(TooFewSamplesError, match="at least 20"):
        classify_entries(np.zeros((2, 5)))
    with pytest.raises(InvalidInputError, match="NaN"):
        classify_entries(np.full((1, 50), np.nan))
    with pytest.raises(InvalidInputError, match="min_atom_weight"):
        classify_entries(np.zeros((1, 50)), min_atom_weight=2.0)
    with pytest.raises(InvalidInputError, match="one name per sample"):
        classify_entries(np.zeros((2, 50)), names=["a"])
