"""Reproduction recipes: every recipe is a published CIFAR-10 row with the same protocol fields, the
model name maps back to the row, and one recipe runs end to end on a tiny random-weight EDM-format
file (the cifar10 suite's stand-in Inception path), writing rows that ``compare`` joins to the row."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.models.formats import PRESETS
from rfbench.models.nets import EDMPrecond, NCSNpp
from rfbench.reporting.names import model_key
from rfbench.reporting.published import load_published
from rfbench.samplers import SAMPLERS
from rfbench.suites.recipes import RECIPES

from nets_golden import fill_, load_golden
from nets_writers import write_edm_pickle, write_score_sde

_, META = load_golden()
SMALL_EDM = META["song_ncsnpp_uncond_edm"]["init_kwargs"]
SMALL_NCSNPP = META["ddpmpp"]["config"]
ROW = "pfgmpp-edm-cifar10-edm-heun-35-fid"


def test_every_recipe_is_a_published_row_with_its_protocol():
    pub = load_published().set_index("id")
    assert len(RECIPES) >= 30
    for rid, r in RECIPES.items():
        assert rid in pub.index, rid
        p = pub.loc[rid]
        assert (p["family"], p["variant"], p["dataset"]) == (r.family, r.variant, "cifar10"), rid
        assert model_key(r.model_name)[:2] == (r.family, r.variant), rid
        assert p["sampler"] == r.sampler and p["grid"] == r.grid, rid
        assert p["conditioning"] == ("class-conditional" if r.conditional else "unconditional"), rid
        if p["nfe_counting"] == "adaptive-mean":
            assert r.nfe is None, rid
        else:
            assert int(p["nfe"]) == r.nfe, rid
        if p["n_samples"] not in ("not-stated", "n/a"):
            assert int(p["n_samples"]) == r.n_samples, rid
        if r.preset is not None:
            assert PRESETS[r.preset].format in r.formats, rid
        if r.runnable is None:
            assert r.sampler in SAMPLERS, rid
            if r.nfe is not None:
                assert not SAMPLERS.get(r.sampler).adaptive
        if r.D is not None and r.preset is not None and r.preset.startswith("pfgmpp"):
            d = r.preset.split("-d")[-1].split("-")[0]
            assert r.D == (math.inf if d == "inf" else float(d)), rid
    # each family of the issue has runnable recipes
    runnable = {(r.family, r.variant) for r in RECIPES.values() if r.runnable is None}
    for key in [("rectified-flow", "1-rf"), ("rectified-flow", "2-rf++"), ("pfgmpp", "pfgmpp-d2048"),
                ("pfgmpp", "edm"), ("diffusion", "vp-scoresde-deep-continuous")]:
        assert key in runnable, key


@pytest.fixture
def edm_file(tmp_path):
    kw = dict(SMALL_EDM, img_resolution=32, channel_mult=[1, 2], attn_resolutions=[16])
    return write_edm_pickle(tmp_path / "tiny-edm.pkl", fill_(EDMPrecond(**kw), seed=1).eval(), kw)


@pytest.mark.parametrize("argv,message", [
    (["reproduce", "no-such-row", "--checkpoint", "{edm}"], "no reproduction recipe for published row 'no-such-row'"),
    (["reproduce", "rf-1-rf-cifar10-euler-1-fid", "--checkpoint", "{edm}"], "is in edm-pickle format; row "
                                                                            "rf-1-rf-cifar10-euler-1-fid measured a score-sde"),
    (["reproduce", "pfgmpp-pfgmpp-d128-cifar10-edm-heun-35-fid", "--checkpoint", "{edm}"], "is a D = inf model"),
    (["reproduce", "edm-edm-cifar10-edm-heun-35-fid", "--checkpoint", "{edm}"], "cannot be reproduced by rfbench: "
                                                                                "class-conditional"),
    (["reproduce", ROW], "--checkpoint PATH"),
    (["reproduce", ROW, "--checkpoint", "/nonexistent.pkl"], "does not exist"),
])
def test_bad_rows_and_wrong_checkpoints_are_one_line_errors(argv, message, edm_file, capsys):
    assert main([a.format(edm=edm_file) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_wrong_kind_score_sde_file(tmp_path, capsys):
    net = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    path = write_score_sde(tmp_path / "checkpoint_8.pth", net, net)
    cfg = json.dumps({"config": SMALL_NCSNPP, "sde": "vpsde"})
    assert main(["reproduce", "rf-1-rf-cifar10-euler-1-fid", "--checkpoint", str(path), "--checkpoint-config",
                 cfg]) == 2
    err = capsys.readouterr().err.strip()
    assert "loads as a ScoreSDEVP; row rf-1-rf-cifar10-euler-1-fid needs a RectifiedFlowVelocity" in err


def test_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert ROW in out and "not runnable" in out and len(out.splitlines()) == len(RECIPES) + 1


@pytest.mark.slow
def test_a_recipe_runs_end_to_end_and_compare_joins_its_row(edm_file, tmp_path, capsys, monkeypatch):
    # CLI smoke: stand-in Inception weights, so the Frechet distance is fd_unverified, never fid
    out = tmp_path / "smoke"
    assert main(["reproduce", ROW, "--checkpoint", str(edm_file), "--smoke", "--out", str(out), "--no-progress"]) == 0
    assert f"rfbench compare {out}" in capsys.readouterr().out
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 1 and df["status"].iloc[0] == "ok", df.get("reason")
    row = df.iloc[0]
    assert row["model"] == "released.pfgmpp.edm" and row["sampler"] == "edm-heun" and row["nfe_measured"] == 35
    assert row["grid"] == "karras" and row["data"] == "cifar10" and pd.notna(row["fd_unverified"])
    assert "fid" not in df.columns or df["fid"].isna().all()

    # the same run with the stand-in weights declared "published" fills fid: compare joins the row by name
    from rfbench.metrics import fid as fidmod
    from rfbench.reporting import compare_files
    from rfbench.suites.recipes import reproduce

    inception = fidmod.standin_inception_weights()
    monkeypatch.setattr(fidmod, "KNOWN_INCEPTION_SHA256", inception.sha256)
    out2 = tmp_path / "published-weights"
    reproduce(ROW, edm_file, out=out2, smoke=True, progress=False,
              options={"standin": False, "fid_weights": str(inception.path)})
    comp = compare_files(out2)
    matched = comp.matched
    # published.csv keys EDM's own DDPM++ row and PFGM++'s D -> inf retrain both as pfgmpp/edm: both join
    assert set(matched["published_id"]) == {ROW, "edm-edm-cifar10-edm-heun-35-fid-2"}, comp.measured_only
    flags = matched.set_index("published_id").loc[ROW, "flags"]
    assert "n-samples" in flags and "fid-impl" in flags  # 24 stand-in samples, torch-fidelity vs EDM's fid.py
    assert "grid" not in flags and "nfe" not in flags.split(", ") and "resolution" not in flags
