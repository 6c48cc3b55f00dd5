"""The escape-model section: its table, figure and plain-words reading, from a result that went
through the result record (as a resumed reproduce step hands it back)."""

import numpy as np
import pandas as pd
import pytest
import torch.nn.functional as F

from sgdnoise.experiments.escape_model import run_escape_model
from sgdnoise.report.sections import build_section
from sgdnoise.report.sections.escape_model import alpha_reading
from sgdnoise.store.records import read_record, write_record


@pytest.fixture(scope="module")
def result(single_thread, breast_cancer_minimum):
    model, (x, y) = breast_cancer_minimum(150)
    return run_escape_model(
        model, F.cross_entropy, (x, y), lr=0.5, batch_size=4, threshold=1.5, num_batches=60, n_seeds=12, max_steps=30
    )


def test_result_round_trips_through_the_record(result, tmp_path):
    back = read_record(write_record(result, tmp_path).parent)
    assert type(back) is type(result) and back.config == result.config
    for m in ("sgd", "levy", "gauss"):
        np.testing.assert_array_equal(back.escape_steps[m], result.escape_steps[m])
        np.testing.assert_array_equal(back.exit_counts[m], result.exit_counts[m])
    np.testing.assert_array_equal(back.inputs.basin.lower, result.inputs.basin.lower)
    pd.testing.assert_frame_equal(back.comparison, result.comparison)
    pd.testing.assert_frame_equal(back.summary_frame(), result.summary_frame())


def test_section_has_the_table_the_figure_and_a_reading_from_the_numbers(result, tmp_path):
    result.write(tmp_path)
    section = build_section("escape_model", result, tmp_path)
    (table,) = section.tables
    frame = table.frame
    assert list(frame.model) == ["sgd", "levy", "gauss", "stable", "gauss_full", "theory"]
    sgd = frame.iloc[0]
    assert sgd.n_seeds == 12 and sgd.ks_to_sgd == 0 and sgd.tv_exits_to_sgd == 0
    theory = frame.set_index("model").loc["theory"]
    assert theory.mean_steps == pytest.approx(result.mean_escape_predicted)
    assert theory.median_steps == pytest.approx(np.log(2) * result.mean_escape_predicted)
    assert theory.tv_exits_to_sgd == pytest.approx(sgd.tv_exits_to_predicted)
    assert section.figures[0].path.exists() and section.seed == 0
    text = " ".join(section.reading)
    assert f"SGD escaped {int(sgd.n_escaped)} of 12 seeds" in text and "Spearman" in text


def test_alpha_reading_says_whether_exits_follow_alpha():
    assert alpha_reading(-0.03, -0.04, -0.01) == (
        "SGD's exits do not follow α in practice: Spearman -0.03 [-0.04, -0.01] has the predicted sign but is weak."
    )
    assert "follow α as the theory predicts" in alpha_reading(-0.6, -0.7, -0.5)
    assert alpha_reading(0.1, -0.05, 0.2).endswith("do not follow α: Spearman +0.10 [-0.05, +0.20].")
    assert "no Spearman" in alpha_reading(float("nan"), float("nan"), float("nan"))
