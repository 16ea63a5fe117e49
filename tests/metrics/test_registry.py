"""The one metric registry: what the sweep, tables, figures and compare read, and what it refuses."""

import ast
import dataclasses
import inspect
import textwrap

import pandas as pd
import pytest

from rfbench.errors import InvalidInputError
from rfbench.metrics import METRICS
from rfbench.metrics.registry import lead_metrics, pareto_metrics, published_keys, table_metrics, vs_nfe_metrics
from rfbench.reporting.format import fmt
from rfbench.reporting.tables import RESULT_COLUMNS
from rfbench.runner.hooks import CELL_METRICS, register_cell_metric
from rfbench.runner.sweep import run_cell
from rfbench.suites import SUITES, get_suite


def test_every_suite_metric_is_declared_and_computed():
    for name in SUITES:
        for m in get_suite(name).metrics:
            assert m in METRICS and m in CELL_METRICS, (name, m)
    assert set(CELL_METRICS) <= set(METRICS)


def test_a_computation_for_an_undeclared_metric_is_refused():
    with pytest.raises(InvalidInputError, match="'my_metric' is not declared in the metric registry"):
        register_cell_metric("my_metric")
    assert "my_metric" not in CELL_METRICS


def test_a_suite_metric_without_a_computation_is_refused():
    suite = dataclasses.replace(get_suite("toy2d"), metrics=("ref_rmse", "clip_score"))
    with pytest.raises(InvalidInputError, match="lists metric 'clip_score', which no cell metric computes"):
        suite.configure(quick=True)


def test_result_columns_keep_their_order():
    # results.csv's leading columns, as every earlier release wrote them
    assert RESULT_COLUMNS == [
        "suite", "model", "data", "sampler", "grid", "nfe", "nfe_measured", "status", "reason", "notes",
        "ref_rmse", "w2", "sw2", "w2_floor", "straightness", "wall_clock_s", "n_samples", "seed",
        "device", "dtype", "ref_nfe", "ref_rtol", "torch_version", "rfbench_version", "git_commit", "code_hash"]
    assert lead_metrics() == ["ref_rmse", "w2", "sw2", "w2_floor", "straightness", "wall_clock_s"]


def test_what_tables_figures_and_compare_show():
    assert vs_nfe_metrics() == ["ref_rmse", "w2", "sw2", "fd_digits", "fid", "lpips", "psnr"]
    assert pareto_metrics() == ["fid", "fd_digits", "w2", "ref_rmse"]
    assert published_keys() == {"fid": "fid", "precision": "precision", "recall": "recall", "is": "is",
                                "clip_score": "clip_score"}
    shown = table_metrics()
    assert {"fd_unverified", "lpips_unverified", "inversion_rmse", "wall_clock_s", "calib_s"} <= set(shown)
    assert "straightness" not in shown and "w2_floor" not in shown  # model properties: once per model
    assert METRICS.get("psnr").direction == "higher" and not METRICS.get("psnr").lower_is_better
    assert METRICS.get("ref_rmse").lower_is_better


def test_run_cell_names_no_metric():
    tree = ast.parse(textwrap.dedent(inspect.getsource(run_cell)))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    computed = {n for n in METRICS if METRICS.get(n).kind != "count"}  # nfe_measured: the sampling call's own count
    assert not strings & computed, strings & computed


def test_one_number_format():
    assert fmt(None) == fmt(float("nan")) == fmt(pd.NA) == "—"
    assert fmt(0.000123456) == "0.0001235" and fmt(12345.678) == "1.235e+04"
    assert fmt(1 / 3, digits=2) == "0.33" and fmt(8) == "8" and fmt("euler") == "euler"
