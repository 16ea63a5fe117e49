"""The cifar10 suite as pytest tests: one test per cell (checkpoint x sampler x NFE x seed).

    pytest suites/cifar10.py --rfbench-smoke                       # CPU, stand-ins (what CI runs)
    pytest suites/cifar10.py --rfbench-device cuda --rfbench-set checkpoints=ddpm=/data/ddpm-cifar10-32 \
        --rfbench-set cifar10_root=/data/cifar10

Without a GPU, checkpoints, data or Inception weights the suite is one skipped test naming what is
missing; results (results.csv, results.md, plots, sample grids) go to --rfbench-out.
"""

RFBENCH_SUITE = "cifar10"


import pytest


def test_cell(rfbench_cell):
    row = rfbench_cell.run()
    if row["status"] == "not-applicable":
        pytest.skip(row["reason"])
    assert row["status"] == "ok", row["reason"]
