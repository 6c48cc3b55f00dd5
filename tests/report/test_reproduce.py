"""The Markdown report of `sgdnoise reproduce`: every section, table and figure, from stand-in results.

The stand-ins carry the recipes' real default configs and one small table each, written out by
hand below, so the test needs no recipe to run (the command's own test runs them all).
"""

from types import SimpleNamespace

import pandas as pd
import pytest

from sgdnoise.experiments.escape_axis import EscapeAxisConfig
from sgdnoise.experiments.escape_direction import EscapeDirectionConfig
from sgdnoise.experiments.escape_time import EscapeTimeConfig
from sgdnoise.experiments.estimator_recovery import RecoveryConfig, RecoveryResult
from sgdnoise.experiments.lr_decay import DecayConfig
from sgdnoise.experiments.mori_stationary import MoriConfig
from sgdnoise.experiments.noise_fits import NoiseFitConfig
from sgdnoise.experiments.zhu_network import ZhuNetworkConfig
from sgdnoise.experiments.zhu_toy import ZhuConfig
from sgdnoise.report.reproduce import ReproduceResults, reproduce_markdown, write_reproduce_report

SECTIONS = [
    "# sgdnoise report",
    "## Gradient noise of a trained network (Battash et al. Table 1, Figs. 1 and 5)",
    "## Learning-rate decay acts by reducing the noise (Battash et al. Fig. 2)",
    "## Parameters with heavier tails are the escape route (Battash et al. Fig. 6)",
    "## Escape time from a minimum of a network (Battash et al. Figs. 3 and 4)",
    "## SGD leaves along flat directions, GD along the sharpest (Wang & Wu 2023)",
    "## Anisotropic noise escapes a sharp minimum (Zhu et al. 2019, 2-D toy)",
    "## ... and on a network? (Zhu et al. 2019, scaled down)",
    "## The stationary law is a power of the loss (Mori et al. 2022)",
    "## Estimator recovery",
]
FIGURES = [
    "noise_fits/histograms.png",
    "noise_fits/alpha_by_layer.png",
    "lr_decay/step_noise.png",
    "escape_axis/escape_axis.png",
    "escape_time/escape_time.png",
    "zhu_network/zhu_network.png",
]


def _table(name: str) -> pd.DataFrame:
    """A one-row table whose Markdown is ``| name | value |`` / ``|---|---|`` / ``| <name>-row | 0.5 |``."""
    return pd.DataFrame({name: [f"{name}-row"], "value": [0.5]})


def _markdown_of(name: str) -> str:
    return f"| {name} | value |\n|---|---|\n| {name}-row | 0.5 |"


@pytest.fixture(scope="module")
def results():
    summary = _table("summary")
    summary.attrs.update(n_rows=40, n_degenerate=4, alpha_median=1.5, alpha_iqr=0.25)
    noise = SimpleNamespace(
        config=NoiseFitConfig(),
        training={"train_accuracy": 0.987, "test_accuracy": 0.953},
        collection={"engine": "entries", "seconds": 2.25},
        summary=summary,
        layers=_table("layers"),
    )
    fits = pd.DataFrame({"model": ["levy"], "formula": ["τ ∝ η^-a"], "r2": [0.75], "aic": [1.5], "extra": [1.0]})
    accuracy = pd.DataFrame(
        {"alpha": [1.5, 1.5, 2.0, 2.0], "method": ["cf", "mle"] * 2, "rmse_alpha": [0.1, 0.2, 0.3, 0.4]}
    )
    return ReproduceResults(
        noise=noise,
        lr_decay=SimpleNamespace(config=DecayConfig(), table=_table("decay")),
        escape_axis=SimpleNamespace(config=EscapeAxisConfig(), table=_table("axis")),
        escape_time=SimpleNamespace(config=EscapeTimeConfig(), times=_table("times"), fits=fits),
        escape_direction=SimpleNamespace(config=EscapeDirectionConfig(), table=_table("direction")),
        zhu_toy=SimpleNamespace(config=ZhuConfig(), table=_table("toy")),
        zhu_network=SimpleNamespace(
            config=ZhuNetworkConfig(),
            table=_table("network"),
            start={"train_accuracy": 1.0, "test_accuracy": 0.625},
            anisotropy=SimpleNamespace(trace_h_sigma=12.0, isotropic=0.5, ratio=24.0),
            noise_variance=0.0125,
        ),
        mori=SimpleNamespace(config=MoriConfig(), table=_table("mori")),
        recovery=RecoveryResult(RecoveryConfig(), accuracy, fits=pd.DataFrame(), summary=pd.DataFrame()),
    )


def test_every_section_comes_once_and_in_order(results):
    headings = [line for line in reproduce_markdown(results).splitlines() if line.startswith("#")]
    assert headings == SECTIONS


def test_every_table_and_figure_is_in_the_report(results):
    text = reproduce_markdown(results)
    for name in ("summary", "layers", "decay", "axis", "times", "direction", "toy", "network", "mori"):
        assert _markdown_of(name) in text
    assert "| model | formula | r2 | aic |\n|---|---|---|---|\n| levy | τ ∝ η^-a | 0.75 | 1.5 |" in text
    assert "| true α | cf | mle |\n|---|---|---|\n| 1.500 | 0.100 | 0.200 |\n| 2.000 | 0.300 | 0.400 |" in text
    for figure in FIGURES:
        assert f"]({figure})" in text
    assert text.endswith("| 2.000 | 0.300 | 0.400 |\n")


def test_the_prose_carries_the_configs_and_measurements(results):
    text = reproduce_markdown(results)
    assert "K = 1000 random mini-batches of B = 32" in text and "(entries gradient engine, 2.2 s)" in text
    assert "train accuracy 0.987, test accuracy 0.953" in text
    assert "36 samples fitted, 4 degenerate set aside; median α = 1.5 (IQR 0.25)." in text
    assert "divides the learning rate by 10" in text and "α₂ = 1.8" in text and "100 SGD seeds" in text
    assert "Tr(HΣ) = 12 against 0.5 for isotropic noise of the same total variance (24×)" in text
    assert "with 20% random labels" in text and "(v = 0.0125," in text
    assert "100 samples of K = 1000 SαS draws (scale 1) per α, seed 0" in text


def test_write_puts_the_report_at_the_path_atomically(results, tmp_path):
    path = write_reproduce_report(results, tmp_path / "out" / "report.md")
    assert path.read_text() == reproduce_markdown(results)
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]
