"""The digits suite as pytest tests: one test per cell (model x sampler x NFE x seed).

    pytest suites/digits.py --rfbench-quick -k "euler"
    pytest suites/digits.py --rfbench-out out/digits --rfbench-models 1-rf,2-rf

Models are trained on first use (minutes each on 2 CPU cores) and cached. A cell fails (as a test)
when its sampler produced non-finite samples or raised; the results table and the PNG sample grids
are written to --rfbench-out.
"""

RFBENCH_SUITE = "digits"


import pytest


def test_cell(rfbench_cell):
    row = rfbench_cell.run()
    if row["status"] == "not-applicable":
        pytest.skip(row["reason"])
    assert row["status"] == "ok", row["reason"]
