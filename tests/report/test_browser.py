"""The report as a reader sees it: ``index.html`` opened in headless Chromium.

No skip: without Chromium these tests fail and say how to install it (``.ci/run`` installs it)."""

import shutil

import pytest

from sgdnoise.report.browser import BrowserError, check_page, find_chromium
from sgdnoise.studies.reproduce import reproduce_steps, size_for

SECTIONS = [step.key for step in reproduce_steps(size_for("quick"))]  # every bundled recipe, in order


def test_the_reproduce_report_loads_cleanly_with_every_image_and_table(tiny_reproduce, tmp_path):
    check = check_page(tiny_reproduce / "index.html", tiny_reproduce / "screenshot.png")
    assert check.errors == []
    assert check.sections == SECTIONS
    assert len(check.images) == 10 and all(image["width"] > 100 for image in check.images), check.images
    assert len(check.tables) >= 13  # 11 of the analyses, versions and timings
    for table in check.tables:
        assert table["expected"] > 0 and table["rows"] == table["expected"], table
    shot = check.screenshot.read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 100_000
    shutil.copy(check.screenshot, tmp_path / "reproduce_report.png")


def test_the_check_sees_a_broken_page(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><img src="missing.png" alt="gone">'
        '<script>console.error("boom"); notDefined();</script>'
        '<table data-rows="3"><tbody><tr><td>1</td></tr></tbody></table></body></html>'
    )
    check = check_page(page, tmp_path / "bad.png")
    assert any("missing.png" in e for e in check.errors)
    assert any("boom" in e for e in check.errors) and any("notDefined" in e for e in check.errors)
    assert check.images[0]["width"] == 0 and check.tables[0]["rows"] == 1 != check.tables[0]["expected"]


def test_a_missing_browser_is_an_error_that_says_how_to_install_it(monkeypatch):
    monkeypatch.delenv("SGDNOISE_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BrowserError, match="apt-get install -y chromium"):
        find_chromium()
