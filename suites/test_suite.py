"""A registered rfbench suite as pytest tests: one test per cell (model x sampler x NFE x seed), the
suite named by ``--rfbench-suite`` (rfbench's pytest plugin; ``rfbench list suites`` names them).

    pytest suites/ --rfbench-suite toy2d --rfbench-quick -k "heun"
    pytest suites/ --rfbench-suite toy2d --rfbench-out out/toy2d --rfbench-nfe 2,4,8
    pytest suites/ --rfbench-suite digits --rfbench-models 1-rf,2-rf     # trains on first use (minutes)
    pytest suites/ --rfbench-suite cifar10 --rfbench-smoke               # CPU, stand-ins (what CI runs)
    pytest suites/ --rfbench-suite cifar10 --rfbench-device cuda --rfbench-set checkpoints=ddpm=/data/ddpm \
        --rfbench-set cifar10_root=/data/cifar10

A cell fails (as a test) when its sampler produced non-finite samples or raised; a cell that does not
apply is skipped with the reason; a suite that cannot run here (no GPU, checkpoints, data or weights)
is one skipped test naming what is missing. The results (results.csv, results.md, figures, sample
grids) are written to --rfbench-out (default rfbench-out/<suite>) when the session ends.
"""

import pytest


def test_cell(rfbench_cell):
    row = rfbench_cell.run()
    if row["status"] == "not-applicable":
        pytest.skip(row["reason"])
    assert row["status"] == "ok", row["reason"]
