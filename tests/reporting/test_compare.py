"""rfbench compare: a fixture of measured rows against a fixture of published rows, with exactly
the matches, differences, ratios, flags and unmatched rows worked out by hand."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.reporting import compare, compare_files, load_published, measured_rows, parse_model_map

DATA = Path(__file__).resolve().parents[1] / "data" / "compare"
# tests/data/compare/published.csv: seven published rows (fixture values, not a paper's):
#   p1 RF 2-rf-distill euler NFE 1 fid 4.85 (tf-gan, score_sde stats, 50k)
#   p2 RF 1-rf dopri5 NFE 127 adaptive-mean fid 2.58
#   p3 EDM edm edm-heun NFE 35 fid 1.97 (min of 3 runs)      p4 the same, class-conditional, 1.79
#   p5 1-rf euler NFE 4 fid 51.95 (clean-fid, n not stated, secondary source: verified=no)
#   p6 EDM edm-heun NFE 35 latency 0.05 s/img on an A100    p7 SD1.5 on COCO (another family)
# tests/data/compare/results.csv: invented measured rows (a results.csv as `rfbench run` writes it):
#   2-rf-distill euler NFE 1, two seeds, FID 5.0 and 5.2 from 10k samples (deliberate n mismatch),
#   wall clock 2.0 / 2.2 s for 10k samples; edm edm-heun requested 36 realised 35, FID 2.1, 20 s
#   for 50k; 1-rf dopri5 (adaptive, 134 counted) FID 2.9; 1-rf heun NFE 8 FID 20 (no published
#   Heun row); my-rf euler NFE 4 FID 60 (a user's name: unmapped without --map); one failed cell.


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "published.csv"
    shutil.copy(DATA / "published.csv", path)
    return path


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "run" / "results.csv"
    path.parent.mkdir()
    shutil.copy(DATA / "results.csv", path)
    return path


def _by_id(comp):
    return {r["published_id"]: r for r in comp.matched.to_dict("records")}


def test_matches_diffs_ratios_and_flags(results, published):
    comp = compare_files(results, published)
    m = _by_id(comp)
    assert set(m) == {"p1", "p2", "p3", "p6"}

    p1 = m["p1"]  # mean over 2 seeds; three protocol mismatches
    assert (p1["measured"], p1["published"]) == (pytest.approx(5.1), 4.85)
    assert p1["difference"] == pytest.approx(0.25)
    assert p1["ratio"] == pytest.approx(5.1 / 4.85)
    assert p1["n_seeds"] == 2
    assert p1["flags"] == "fid-impl, reference-set, n-samples"
    assert "measured with 10000 samples vs published 50000" in p1["flag_details"]
    assert "published tf-gan, measured torch-fidelity" in p1["flag_details"]

    p2 = m["p2"]  # adaptive: joined regardless of NFE, NFE difference flagged
    assert (p2["nfe_measured"], p2["nfe_published"]) == (134, "127")
    assert p2["difference"] == pytest.approx(0.32)
    assert p2["flags"] == "nfe-counting, nfe, fid-impl, reference-set"
    assert "published NFE 127, measured 134" in p2["flag_details"]

    p3 = m["p3"]  # 36 requested, 35 counted = EDM's 18 Heun steps
    assert p3["difference"] == pytest.approx(0.13)
    assert p3["ratio"] == pytest.approx(2.1 / 1.97)
    assert p3["flags"] == "nfe-rounded, fid-impl, seed-policy"
    assert "requested NFE 36 was realised as 35" in p3["flag_details"]

    p6 = m["p6"]  # latency: 20 s for 50000 samples
    assert p6["measured"] == pytest.approx(4e-4)
    assert p6["ratio"] == pytest.approx(4e-4 / 0.05)
    assert p6["flags"] == "nfe-rounded, hardware, latency-definition"


def test_unmatched_rows_are_listed_with_reasons(results, published):
    comp = compare_files(results, published)
    mo = {(r["model"], r["sampler"], r["metric"]): r["reason"] for r in comp.measured_only.to_dict("records")}
    assert mo == {
        ("2-rf-distill", "euler", "latency_s_per_image"):
            "rectified-flow/2-rf-distill on cifar10 with euler: no published latency_s_per_image",
        ("1-rf", "heun", "fid"): "rectified-flow/1-rf on cifar10: published samplers are dopri5, euler",
        ("my-rf", "euler", "fid"):
            "model 'my-rf' is not mapped to a published family (use --map my-rf=FAMILY/VARIANT)",
    }
    # published rows of the measured (family, variant, dataset) that were not matched; p7 (another
    # family) is not listed unless asked for
    assert list(comp.published_only["id"]) == ["p4", "p5"]
    every = compare_files(results, published, all_published=True)
    assert list(every.published_only["id"]) == ["p4", "p5", "p7"]


def test_model_map_for_user_checkpoints(results, published):
    comp = compare_files(results, published, model_map=parse_model_map(["my-rf=rectified-flow/1-rf"]))
    p5 = _by_id(comp)["p5"]
    assert p5["model"] == "my-rf"
    assert p5["difference"] == pytest.approx(60.0 - 51.95)
    assert p5["flags"] == "fid-impl, reference-set, n-samples, unverified"
    assert "published sample count not stated; measured with 50000" in p5["flag_details"]
    assert list(comp.published_only["id"]) == ["p4"]
    rules = dict(zip(comp.mapping["model"], comp.mapping["map_rule"]))
    assert rules == {"2-rf-distill": "table", "edm": "table", "1-rf": "table", "my-rf": "--map"}


def test_measured_rows_average_seeds_and_derive_latency(results):
    df = pd.read_csv(results)
    rows = measured_rows(df)
    lat = rows[(rows["model"] == "2-rf-distill") & (rows["metric"] == "latency_s_per_image")].iloc[0]
    assert lat["value"] == pytest.approx((2.0 / 10000 + 2.2 / 10000) / 2)
    assert not ((rows["model"] == "edm") & (rows["sampler"] == "euler")).any()  # the failed cell
    adaptive = rows[rows["sampler"] == "dopri5"].iloc[0]
    assert bool(adaptive["adaptive"]) and pd.isna(adaptive["nfe"])


def test_real_published_table_joins(results):
    """The same measured rows against results/published.csv: RF's distilled 2-RF (4.85) and both
    EDM baselines (PFGM++'s retrain 1.98 and EDM's own 1.97) are found."""
    comp = compare(pd.read_csv(results), load_published())
    ids = set(comp.matched["published_id"])
    assert {"rf-2-rf-distill-cifar10-euler-1-fid", "rf-1-rf-cifar10-dopri5-127-fid"} <= ids
    edm = comp.matched[comp.matched["model"] == "edm"]
    assert sorted(edm["published"]) == [1.97, 1.98]


def test_cli_compare_writes_and_prints(results, published, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(results.parent), "--published", str(published), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "## Matched" in text and "fid-impl, reference-set, n-samples" in text
    table = pd.read_csv(out / "comparison.csv")
    assert table["match"].value_counts().to_dict() == {"matched": 4, "measured only": 3, "published only": 2}
    assert (out / "comparison.md").read_text().startswith("# Comparison with published numbers")


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_text(""), "not a readable CSV"),
    (lambda p: p.write_text("a,b\n1,2\n"), "missing column(s) model, sampler, nfe, nfe_measured, status"),
])
def test_cli_bad_results_file_is_one_line_exit_2(tmp_path, capsys, make, needle):
    path = tmp_path / "results.csv"
    make(path)
    assert main(["compare", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and needle in err


def test_cli_bad_published_file_and_map(results, tmp_path, capsys):
    bad = tmp_path / "pub.csv"
    bad.write_text("id,value\nx,1\n")
    assert main(["compare", str(results), "--published", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "malformed" in err
    assert main(["compare", str(results), "--map", "my-rf"]) == 2
    assert "NAME=FAMILY/VARIANT" in capsys.readouterr().err


def test_nan_free_numbers(results, published):
    comp = compare_files(results, published)
    assert not any(math.isnan(v) for v in comp.matched["ratio"])
