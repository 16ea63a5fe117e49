"""The pytest plugin: a suite's cells as tests, selected with -k, results written at session end."""

from pathlib import Path

import pandas as pd


def test_pytest_plugin_runs_suite_cells_selected_with_k(pytester, tmp_path):
    pytester.makepyfile(toy2d_suite=Path(__file__).resolve().parents[2].joinpath("suites", "test_suite.py").read_text())
    out = tmp_path / "plugin-out"
    res = pytester.runpytest_subprocess(
        "toy2d_suite.py", "--rfbench-suite=toy2d", f"--rfbench-out={out}",
        "--rfbench-models=analytic-gmm-rf", "--rfbench-nfe=2,4", "-k", "(euler or heun) and not flowmatch", "-q")
    res.assert_outcomes(passed=4, skipped=2)  # edm-heun is n/a on the flow path at t = 1 (skipped, with reason)
    df = pd.read_csv(out / "results.csv")
    assert sorted(df["sampler"]) == ["edm-heun", "edm-heun", "euler", "euler", "heun", "heun"]
    assert set(df.loc[df["sampler"] == "edm-heun", "status"]) == {"not-applicable"}


def test_the_generic_suite_file_needs_a_suite_name(pytester):
    pytester.makepyfile(some_suite=Path(__file__).resolve().parents[2].joinpath("suites", "test_suite.py").read_text())
    res = pytester.runpytest_subprocess("some_suite.py", "-q")
    assert res.ret == 4, res.stdout.str()  # pytest's usage error
    assert "name the suite with --rfbench-suite NAME" in res.stderr.str() + res.stdout.str()
    res = pytester.runpytest_subprocess("some_suite.py", "--rfbench-suite", "toy3d", "-q")
    assert res.ret == 4
    assert "--rfbench-suite 'toy3d' is not a registered suite; registered: cifar10, digits, toy2d" in \
        res.stderr.str() + res.stdout.str()
