"""Error bars wired into the product (issue 16): interval columns in toy2d rows, replicate vectors in
cell records, ``--no-intervals``, the Euler-vs-Heun pairing figures docs/uncertainty.md quotes, FD_inf on a
digits smoke run, t-intervals across seeds and FID extrapolation in ``rfbench compare``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from rfbench.metrics.uncertainty import (BootstrapPlan, compare, mean_replicates, sliced_w2_replicates, t_interval,
                                         w2_replicates)
from rfbench import run_suite
from rfbench.runner.intervals import OFF, PER_SAMPLE_MAX, IntervalSettings, decode_replicates, encode_replicates

METRICS_2D = ("ref_rmse", "w2", "sw2", "inversion_rmse")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy2d-intervals")
    res = run_suite("toy2d", models=["analytic-gmm-rf"], samplers=["euler", "heun"], nfe=[8], n_samples=1000,
                    out=out, progress=False)
    return out, res["frame"]


def test_toy2d_rows_carry_intervals_that_cover_the_value(toy_run):
    _, df = toy_run
    assert len(df) == 2 and (df["status"] == "ok").all()
    for m in METRICS_2D:
        for _, r in df.iterrows():
            assert r[f"{m}_lo"] <= r[m] <= r[f"{m}_hi"], (m, r["sampler"])
            assert r[f"{m}_hi"] > r[f"{m}_lo"]
            assert "95%" in r[f"{m}_ci"] and "seed 0" in r[f"{m}_ci"]
    # the plan of each metric: n = the points resampled, B = the default
    assert (df["ref_rmse_ci"] == "bca 95%, B=1000, seed 0, n=1000").all()
    assert df["w2_ci"].str.startswith("percentile 95%, B=1000").all()
    assert (df["intervals_s"] > 0).all()
    csv = pd.read_csv(toy_run[0] / "results.csv")
    assert {"ref_rmse_lo", "ref_rmse_hi", "ref_rmse_ci", "w2_lo", "sw2_hi"} <= set(csv.columns)
    assert "_replicates" not in csv.columns
    md = (toy_run[0] / "results.md").read_text()
    from rfbench.reporting.format import fmt

    assert f"[{fmt(df['ref_rmse_lo'].iloc[0], 'ref_rmse')}, {fmt(df['ref_rmse_hi'].iloc[0], 'ref_rmse')}]" in md


def test_records_round_trip_replicate_vectors(toy_run):
    out, df = toy_run
    from rfbench.runner.records import CellStore

    recs = CellStore(out).records()
    assert len(recs) == 2
    for rec in recs:
        reps = decode_replicates(rec["replicates"])
        assert set(METRICS_2D) <= set(reps)
        row = rec["row"]
        for m in METRICS_2D:
            rep = reps[m]
            assert rep.plan == BootstrapPlan(1000 if m != "w2" else 1000, 1000, 0)
            assert len(rep.values) == 1000 and rep.estimate == pytest.approx(row[m], rel=1e-12)
            # n = 1000 > PER_SAMPLE_MAX: per-sample values are not stored; percentile from float32 values
            assert rep.influence is None
            iv = rep.interval("percentile")
            assert row[f"{m}_lo"] == pytest.approx(iv.lo, rel=0.05, abs=1e-6)
    # encoding is float32: a small vector with influence survives exactly to float32 precision
    rep = mean_replicates(np.linspace(0, 1, 40) ** 2, BootstrapPlan(40, 50, 3))
    back = decode_replicates(json.loads(json.dumps(encode_replicates({"x": rep}))))["x"]
    assert np.array_equal(back.values, rep.values.astype(np.float32).astype(np.float64))
    assert np.allclose(back.influence, rep.influence, rtol=1e-6, atol=1e-7)
    assert back.plan == rep.plan and back.kind == "mean" and 40 <= PER_SAMPLE_MAX


def test_compare_samplers_cli_ranks_and_groups(toy_run, capsys):
    from rfbench.cli import main

    out, df = toy_run
    assert main(["compare-samplers", str(out), "--nfe", "8", "--metric", "ref_rmse"]) == 0
    text = capsys.readouterr().out
    assert "analytic-gmm-rf, NFE 8, seed 0: ref_rmse" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("| 1 ") or ln.startswith("| 2 ")]
    assert lines[0].split("|")[2].strip() == "heun" and lines[1].split("|")[2].strip() == "euler"
    assert lines[0].split("|")[4].strip() == "a" and lines[1].split("|")[4].strip() == "b"  # distinguishable
    diff = df.set_index("sampler")["ref_rmse"]
    assert f"{diff['euler'] - diff['heun']:+.4g}" in lines[1]
    assert main(["compare-samplers", str(out), "--nfe", "3"]) == 2
    assert "--nfe 3: no cell at that NFE" in capsys.readouterr().err
    assert main(["compare-samplers", str(out), "--metric", "fid"]) == 2
    assert "no cell" in capsys.readouterr().err


def test_report_has_error_bar_section_and_bands(toy_run, tmp_path):
    from rfbench.reporting import build_report
    from rfbench.runner.intervals import load_cells

    out, _ = toy_run
    res = build_report(out, out=tmp_path, cells=load_cells(out))
    md = res["md"].read_text()
    assert "## Error bars" in md and "Paired comparisons at NFE 8" in md
    assert "95% interval (bootstrap; t across seeds when several)" in md


def test_no_intervals_turns_them_off(tmp_path):
    res = run_suite("toy2d", models=["analytic-gmm-rf"], samplers=["euler"], nfe=[2], n_samples=64, out=tmp_path,
                    progress=False, intervals=OFF)
    df = res["frame"]
    assert not [c for c in df.columns if c.endswith(("_lo", "_hi", "_ci"))] and "intervals_s" not in df
    rec = json.loads(next((tmp_path / "cells").glob("*.json")).read_text())
    assert "replicates" not in rec


def test_interval_settings_validate():
    from rfbench.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="B must be an integer >= 20"):
        IntervalSettings().with_B(5)
    with pytest.raises(InvalidInputError, match="confidence level"):
        IntervalSettings(level=1.5)


def test_euler_vs_heun_paired_excludes_zero_where_unpaired_intervals_overlap():
    """The figures of docs/uncertainty.md ("In short"): analytic-gmm-rf, NFE 8, toy2d's 2000 samples vs
    its 2000 held-out points, first-order replicates (B = 1000, seed 0)."""
    from rfbench.models import get_model
    from rfbench.runner.sweep import HELDOUT_SEED
    from rfbench.samplers import sample

    model = get_model("analytic-gmm-rf")
    y = model.sample_data(2000, generator=torch.Generator().manual_seed(HELDOUT_SEED))
    noise = model.sample_prior(2000, seed=0, dtype=torch.float64, device="cpu").float()
    x = {s: sample(model, s, 8, noise=noise).x for s in ("euler", "heun")}
    plan = BootstrapPlan(2000, 1000, 0)
    for name, fn in (("w2", lambda v: w2_replicates(v, y, plan, method="linear")),
                     ("sw2", lambda v: sliced_w2_replicates(v, y, plan, method="linear"))):
        e, h = fn(x["euler"]), fn(x["heun"])
        ie, ih = e.interval(), h.interval()
        assert ie.lo <= ih.hi and ih.lo <= ie.hi, name  # the unpaired intervals overlap
        c = compare(e, h)
        assert c.interval.lo > 0 and c.p_value < 0.05, name  # the paired difference excludes 0
        assert c.interval.hi - c.interval.lo < 0.5 * min(ie.hi - ie.lo, ih.hi - ih.lo), name


def test_fd_digits_inf_on_a_digits_smoke_run(tmp_path):
    res = run_suite("digits", smoke=True, samplers=["euler"], nfe=[2], out=tmp_path, progress=False,
                    options={"fd_inf": "1", "fd_inf_n": "640"})
    r = res["frame"].iloc[0]
    assert r["status"] == "ok"
    assert r["fd_digits_lo"] < r["fd_digits_hi"] and r["fd_digits_ci"].startswith("centred 95%, B=100")
    sizes = [int(v) for v in str(r["fd_digits_inf_sizes"]).split()]
    assert len(sizes) == 15 and sizes[-1] == 640 == r["fd_digits_inf_n"] and sizes[0] > 128  # above d
    # FD_N falls with N (the 1/N bias), so the intercept sits below FD at every measured size
    assert r["fd_digits_inf_slope"] > 0 and r["fd_digits_inf"] < r["fd_digits"]
    assert r["fd_digits_inf_lo"] < r["fd_digits_inf"] < r["fd_digits_inf_hi"]
    assert r["fd_digits_inf_ci"].startswith("basic 95%, B=100")


def test_across_seeds_t_interval():
    from rfbench.reporting.paired import across_seeds, seeds_blocks

    df = pd.DataFrame({"model": "m", "data": "", "sampler": "euler", "nfe": 8, "status": "ok", "seed": [0, 1, 2],
                       "ref_rmse": [0.1, 0.12, 0.11]})
    agg = across_seeds(df, ["ref_rmse"])
    v = np.array([0.1, 0.12, 0.11])
    half = stats.t.ppf(0.975, 2) * v.std(ddof=1) / math.sqrt(3)
    assert agg["ref_rmse_mean"].iloc[0] == pytest.approx(0.11)
    assert agg["ref_rmse_seeds_lo"].iloc[0] == pytest.approx(0.11 - half)
    assert agg["ref_rmse_seeds_hi"].iloc[0] == pytest.approx(0.11 + half)
    assert t_interval(v).hi == pytest.approx(0.11 + half)
    assert across_seeds(df.iloc[:1], ["ref_rmse"]).empty and seeds_blocks(df.iloc[:1], ["ref_rmse"]) == []


def test_compare_uses_fid_extrapolated_to_the_published_count():
    from rfbench.reporting.fd_inf_compare import use_extrapolation

    m = {"value_inf": 3.0, "inf_slope": 20_000.0, "value_inf_lo": 2.8, "value_inf_hi": 3.2, "n_samples": "10000"}
    p = {"metric": "fid", "n_samples": "50000"}
    flags: list = []
    assert use_extrapolation(m, p, 5.0, flags) == pytest.approx(3.0 + 20_000 / 50_000)
    assert flags[0][0] == "fid-extrapolated" and "50000" in flags[0][1] and "[2.8, 3.2]" in flags[0][1]
    flags = []
    assert use_extrapolation(m, {**p, "n_samples": "10000"}, 5.0, flags) == 5.0 and not flags  # same count
    assert use_extrapolation(m, {**p, "n_samples": "not-stated"}, 5.0, flags) == 5.0 and not flags
    assert use_extrapolation({**m, "value_inf": math.nan}, p, 5.0, flags) == 5.0 and not flags
