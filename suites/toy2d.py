"""The toy2d suite as pytest tests: one test per cell (model x sampler x NFE x seed).

    pytest suites/toy2d.py --rfbench-quick -k "heun"
    pytest suites/toy2d.py --rfbench-out out/toy2d --rfbench-nfe 2,4,8

A cell fails (as a test) when its sampler produced non-finite samples or raised; the results
table (results.csv, results.md, plots) is written to --rfbench-out at the end of the session.
"""

RFBENCH_SUITE = "toy2d"


import pytest


def test_cell(rfbench_cell):
    row = rfbench_cell.run()
    if row["status"] == "not-applicable":
        pytest.skip(row["reason"])
    assert row["status"] == "ok", row["reason"]
