"""report.html in a real browser (issue 14): the headline table and the first figure start within the
first screenful (1280 x 800) of a toy2d report, read from headless Chromium by
scripts/report_screenshot.py. Skipped where no Chromium or Chrome binary exists (none can be
installed on the project's CI machines); set RFBENCH_CHROMIUM to a binary to run it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("rfbench_report_screenshot", ROOT / "scripts" / "report_screenshot.py")
shot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shot)


def test_verdict_names_what_is_below_the_first_screenful():
    """The script's decision, without a browser."""
    assert shot.verdict({"headline_table": 120.0, "first_figure": 640.0}, 800) == []
    bad = shot.verdict({"headline_table": 120.0, "first_figure": 9000.0}, 800)
    assert bad == ["the first figure starts at 9000 px, below the first screenful (800 px)"]
    assert shot.verdict({"headline_table": None, "first_figure": 10.0}, 800) == [
        "the headline table: not found on the page"]


@pytest.mark.slow
@pytest.mark.skipif(shot.find_browser() is None, reason="no Chromium / Chrome binary (set RFBENCH_CHROMIUM)")
def test_headline_and_first_figure_in_the_first_screenful(tmp_path):
    from rfbench import run_suite
    from rfbench.cli import main

    out = tmp_path / "toy"
    run_suite("toy2d", models=["analytic-gmm-rf", "analytic-gmm-vp"], samplers=["euler", "heun", "dpm-solver++-2m"],
              nfe=[4, 8, 16], n_samples=200, out=out, progress=False)
    assert main(["report", str(out)]) == 0
    png = tmp_path / "first-screen.png"
    layout = shot.measure(out / "report.html", shot.find_browser(), width=1280, height=800, screenshot=png)
    assert shot.verdict(layout, 800) == [], layout
    assert png.stat().st_size > 10_000  # a real screenshot, not an empty page
