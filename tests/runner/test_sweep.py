"""The sweep runner, its records and outputs."""

import json

import pandas as pd
import pytest
import torch

from rfbench import run_suite
from rfbench.samplers import SamplerSpec, register_sampler
from rfbench.samplers.registry import SAMPLERS

SMALL = dict(models=["analytic-gmm-rf", "analytic-pfgmpp-d128"], samplers=["euler", "heun", "dopri5"], nfe=[2, 4],
             n_samples=2000, progress=False)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy2d")
    return out, run_suite("toy2d", out=out, **SMALL)


def test_sweep_writes_table_markdown_and_plots(small_run):
    out, result = small_run
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 * (2 * 2 + 1)
    for col in ("suite", "model", "sampler", "nfe", "nfe_measured", "ref_rmse", "straightness", "w2", "sw2",
                "wall_clock_s", "n_samples", "seed", "device", "torch_version", "rfbench_version", "git_commit"):
        assert col in df.columns, col
    assert (df["status"] == "ok").all()
    fixed = df[df["sampler"] != "dopri5"]
    assert (fixed.loc[fixed["sampler"] == "euler", "nfe_measured"] == fixed.loc[fixed["sampler"] == "euler", "nfe"]).all()
    assert df["ref_rmse"].notna().all() and (df["wall_clock_s"] > 0).all()
    # dopri5 at 1e-5 is far more accurate than 4-step Euler
    rf = df[df["model"] == "analytic-gmm-rf"].set_index(["sampler", "nfe"], drop=False)
    assert rf[rf["sampler"] == "dopri5"]["ref_rmse"].iloc[0] < rf.loc[("euler", 4), "ref_rmse"] / 100
    assert "## analytic-gmm-rf" in (out / "results.md").read_text()
    assert (out / "ref_rmse_vs_nfe.png").stat().st_size > 10_000


def test_rerun_reuses_cells_and_force_recomputes(small_run):
    out, _ = small_run
    again = run_suite("toy2d", out=out, **SMALL)
    assert again["summary"]["computed"] == 0 and again["summary"]["reused"] == 10
    forced = run_suite("toy2d", out=out, force=True, **{**SMALL, "models": ["analytic-gmm-rf"], "nfe": [2]})
    assert forced["summary"]["computed"] == 3


def test_changed_settings_are_recomputed_not_mixed(small_run, tmp_path):
    out, _ = small_run
    res = run_suite("toy2d", out=out, **{**SMALL, "models": ["analytic-gmm-rf"], "samplers": ["euler"],
                                         "n_samples": 2001})
    assert res["summary"]["computed"] == 2
    assert set(pd.read_csv(out / "results.csv")["n_samples"]) == {2001}


def test_nonfinite_cell_fails_with_reason_and_sweep_goes_on(tmp_path):
    def sample_nan(model, x, ts):
        model.velocity(x, float(ts[0]))
        return torch.full_like(x, float("nan"))

    if "nan-test" not in SAMPLERS:
        register_sampler(SamplerSpec("nan-test", sample_nan, 1, "1", "test", "always NaN"))
    try:
        res = run_suite("toy2d", out=tmp_path, models=["analytic-gmm-rf"], samplers=["nan-test", "euler"], nfe=[1],
                        n_samples=100, progress=False)
    finally:
        SAMPLERS._entries.pop("nan-test")
    df = res["frame"]
    bad = df[df["sampler"] == "nan-test"].iloc[0]
    assert bad["status"] == "failed" and "non-finite samples: 100 of 100" in bad["reason"]
    assert df[df["sampler"] == "euler"].iloc[0]["status"] == "ok"


def test_cell_records_are_json_with_hashes(small_run):
    out, _ = small_run
    rec = json.loads(next((out / "cells").glob("analytic-gmm-rf-heun-nfe2-seed0-*.json")).read_text())
    assert {"cell", "config_hash", "code_hash", "row", "sha256"} <= set(rec)
