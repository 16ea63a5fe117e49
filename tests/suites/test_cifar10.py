"""The cifar10 suite: skips with one line when inputs are missing, --smoke runs every code path on CPU
with stand-ins (random U-Net, random Inception/AlexNet weights, random reference images) that are
never reported under the names fid / lpips."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from rfbench.cli import main
from rfbench import run_suite


def test_full_suite_skips_with_one_line_naming_what_is_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("RFBENCH_CIFAR10_ROOT", raising=False)
    assert main(["run", "cifar10", "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("cifar10: skipped: missing") and len(out.splitlines()) == 1
    assert "checkpoints (--checkpoint NAME=PATH" in out and "CIFAR-10 data" in out
    if not torch.cuda.is_available():
        assert "a GPU (CUDA is not available" in out
    assert not (tmp_path / "out" / "results.csv").exists()


@pytest.mark.parametrize("argv,message", [
    (["--smoke", "--set", "fid_nn=3"], "has no option 'fid_nn'; valid options:"),
    (["--smoke", "--set", "fid_n=many"], "option fid_n='many': expected an integer"),
    (["--set", "novalue"], "--set expects KEY=VALUE"),
    (["--checkpoint", "ddpm=/nonexistent/ddpm"], "checkpoint ddpm: /nonexistent/ddpm does not exist"),
])
def test_bad_options_are_one_line_errors(argv, message, capsys, tmp_path):
    assert main(["run", "cifar10", "--out", str(tmp_path)] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_pytest_file_is_one_skipped_test_without_inputs(pytester):
    pytester.makepyfile(cifar10_suite=Path(__file__).resolve().parents[2].joinpath("suites", "test_suite.py").read_text())
    res = pytester.runpytest_subprocess("cifar10_suite.py", "--rfbench-suite", "cifar10", "-q", "-rs")
    res.assert_outcomes(skipped=1)
    assert "missing" in res.stdout.str()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("cifar10-smoke")
    run_suite("cifar10", smoke=True, out=out, progress=False)
    return out, pd.read_csv(out / "results.csv")


@pytest.mark.slow
def test_smoke_runs_every_path_and_labels_stand_ins(smoke):
    from rfbench.metrics.fid import standin_inception_weights

    out, df = smoke
    assert len(df) == 2 and (df["status"] == "ok").all(), df[["status", "reason"]]
    assert (df["nfe_measured"] == 2).all() and (df["device"] == "cpu").all()
    for col in ("ref_rmse", "psnr", "wall_clock_s", "straightness", "fd_unverified", "lpips_unverified",
                "precision_unverified", "recall_unverified"):
        assert df[col].notna().all(), col
    # stand-in weights never produce columns named fid / lpips / precision / recall
    for col in ("fid", "lpips", "precision", "recall"):
        assert col not in df.columns or df[col].isna().all(), col
    assert df["notes"].str.contains("fid not reported").all() and df["notes"].str.contains("lpips not reported").all()
    row = df.iloc[0]
    assert row["fid_weights_sha256"] == standin_inception_weights().sha256
    assert row["fid_extractor"] == "torch-fidelity inception-v3-compat pool3 2048"
    assert row["fid_impl"].startswith("torch-fidelity ") and row["fid_ref"] == "standin"
    assert (row["fid_ref_n"], row["fid_n_samples"], row["image_resolution"]) == (32, 24, "32x32")
    assert "299x299" in row["resize_rule"] and "stand-in" in row["fd_unverified_extractor"]
    assert row["lpips_net"] == "alex" and row["lpips_n"] == 8 and "224x224" in row["lpips_resize_rule"]
    for name in ("euler-nfe2-seed0.png", "reference-seed0.png"):
        assert (out / "samples" / "tiny-unet-standin" / name).stat().st_size > 1000
    assert (out / "results.md").read_text().count("| fd_unverified ") == 1  # one table column (notes say why)


@pytest.mark.slow
def test_missing_weights_give_empty_columns_with_reasons(smoke, tmp_path, monkeypatch):
    monkeypatch.delenv("RFBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("RFBENCH_ALEXNET_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    run_suite("cifar10", smoke=True, out=tmp_path, samplers=["euler"], progress=False, options={"standin": False})
    df = pd.read_csv(tmp_path / "results.csv")
    row = df.iloc[0]
    assert row["status"] == "ok" and pd.notna(row["psnr"]) and pd.notna(row["ref_rmse"])
    for col in ("fid", "fd_unverified", "lpips", "lpips_unverified"):
        assert col not in df.columns or pd.isna(row[col]), col
    assert "fid not computed: Inception (FID) weights not available" in row["notes"]
    assert "lpips not computed: AlexNet (LPIPS trunk) weights not available" in row["notes"]


@pytest.mark.slow
def test_published_weights_are_reported_under_the_standard_names(smoke, tmp_path, monkeypatch):
    # pretend the stand-in files are the published ones: the same run must then fill fid / lpips
    from rfbench.metrics import fid as fidmod
    from rfbench.metrics import lpips_ref

    inception, alexnet = fidmod.standin_inception_weights(), lpips_ref.standin_alexnet_weights()
    monkeypatch.setattr(fidmod, "KNOWN_INCEPTION_SHA256", inception.sha256)
    monkeypatch.setattr(lpips_ref, "ALEXNET_SHA256_PREFIX", alexnet.sha256[:8])
    run_suite("cifar10", smoke=True, out=tmp_path, samplers=["euler"], progress=False,
              options={"standin": False, "fid_weights": str(inception.path), "lpips_weights": str(alexnet.path)})
    row = pd.read_csv(tmp_path / "results.csv").iloc[0]
    _, smoke_df = smoke
    euler = smoke_df[smoke_df["sampler"] == "euler"].iloc[0]
    assert row["fid"] == pytest.approx(euler["fd_unverified"], rel=1e-9)  # same numbers, now named fid
    assert row["lpips"] == pytest.approx(euler["lpips_unverified"], rel=1e-9)
    assert pd.notna(row["precision"]) and pd.notna(row["recall"])
    assert "fd_unverified" not in row.index or pd.isna(row["fd_unverified"])


@pytest.mark.slow
def test_smoke_model_is_read_through_the_released_format_loader(smoke):
    # --smoke's model is a file in RectifiedFlow's released checkpoint_N.pth layout, detected and loaded
    # by rfbench.models.formats (not an rfbench or diffusers file)
    from rfbench.models import get_model
    from rfbench.models.formats import detect_format
    from rfbench.suites.cifar10 import STANDIN_NCSNPP, standin_released_file

    assert detect_format(standin_released_file()) == "score-sde"
    model = get_model(STANDIN_NCSNPP)
    assert type(model).__name__ == "RectifiedFlowVelocity" and model.meta["format"] == "score-sde"
    assert model.meta["sha256"] and model.meta["weights"] == "ema"
