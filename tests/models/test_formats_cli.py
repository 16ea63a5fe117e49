"""The command line's checkpoint entry points: ``--checkpoint NAME=PATH`` (+ ``--checkpoint-config``) on
list/run/train through register_checkpoint, the shared parent parsers, and ``rfbench inspect``, on
files written by the tests' own pickler."""

from __future__ import annotations

import json

import pytest

from rfbench.cli import build_parser, main
from rfbench.models.nets import EDMPrecond, NCSNpp

from nets_golden import fill_, load_golden
from nets_writers import write_edm_pickle, write_score_sde

_, META = load_golden()
SMALL_NCSNPP = META["ddpmpp"]["config"]
SMALL_EDM = META["song_ncsnpp_uncond_edm"]["init_kwargs"]


@pytest.fixture
def edm_file(tmp_path):
    net = fill_(EDMPrecond(**SMALL_EDM), seed=2).eval()
    return write_edm_pickle(tmp_path / "snapshot.pkl", net, SMALL_EDM), net


@pytest.fixture
def rf_file(tmp_path):
    net = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    return write_score_sde(tmp_path / "checkpoint_8.pth", net, net), net


def test_inspect_prints_the_facts(edm_file, capsys):
    path, net = edm_file
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    facts = dict(line.strip().split(": ", 1) for line in out.splitlines())
    assert facts["format"] == "edm-pickle" and facts["network"] == "SongUNet" and facts["weights"] == "EMA"
    assert facts["parameters"] == f"{sum(p.numel() for p in net.parameters()):,}"
    assert facts["preconditioning"].startswith("EDMPrecond") and facts["conditioning"].startswith("unconditional")
    assert "sigma / (1 + sigma)" in facts["time"] and facts["prediction"] == "x0"


def test_inspect_weights_only_file_with_and_without_its_configuration(rf_file, capsys, tmp_path):
    path, net = rf_file
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "score-sde" in out and "network" not in out and "preset=" in out  # says what it needs
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"config": SMALL_NCSNPP, "sde": "rectified_flow"}))
    assert main(["inspect", str(path), "--checkpoint-config", f"@{cfg}"]) == 0
    out = capsys.readouterr().out
    assert "NCSNpp" in out and "t = 1 - t_rf" in out and f"{sum(p.numel() for p in net.parameters()):,}" in out
    assert main(["inspect", str(tmp_path / "missing.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfbench: error:") and "does not exist" in err and len(err.splitlines()) == 1


def test_checkpoint_on_list_registers_through_the_one_entry(edm_file, rf_file, capsys):
    edm, _ = edm_file
    rf, _ = rf_file
    cfg = json.dumps({"config": SMALL_NCSNPP, "sde": "rectified_flow"})
    assert main(["list", "models", "--checkpoint", f"cli-edm={edm}", "--checkpoint", f"cli-rf={rf}",
                 "--checkpoint-config", f"cli-rf={cfg}"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("cli-")}
    assert "DenoiserFlow" in rows["cli-edm"] and "RectifiedFlowVelocity" in rows["cli-rf"]
    assert "edm-pickle checkpoint" in rows["cli-edm"] and "score-sde checkpoint" in rows["cli-rf"]


@pytest.mark.parametrize("argv,message", [
    (["list", "--checkpoint", "x=/nonexistent.pkl"], "checkpoint x: /nonexistent.pkl does not exist"),
    (["list", "--checkpoint", "x"], "--checkpoint expects NAME=PATH, got 'x'"),
    (["list", "--checkpoint", "x={rf}"], "preset= one of"),
    (["list", "--checkpoint", "x={rf}", "--checkpoint-config", "nope"], "--checkpoint-config expects [NAME=]PRESET"),
    (["list", "--checkpoint", "x={rf}", "--checkpoint-config", "y=rf-cifar10-ddpmpp"], "names 'y', which no --checkpoint"),
    (["list", "--checkpoint", "x={rf}", "--checkpoint-config", "rf-cifar10-ddpmpp"], "does not match"),
    (["train", "1-rf", "--checkpoint", "1-rf={rf}"], "is taken by rfbench's trained model"),
    (["run", "toy2d", "--checkpoint", "mine={rf}"], "--checkpoint: suite 'toy2d' does not load checkpoints"),
])
def test_checkpoint_errors_are_one_line(argv, message, rf_file, capsys):
    rf, _ = rf_file
    assert main([a.format(rf=rf) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_parent_parsers_give_the_same_options_to_each_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices

    def flags(cmd):
        return {s for a in sub[cmd]._actions for s in a.option_strings}

    for cmd in ("list", "run", "train"):
        assert {"--checkpoint", "--checkpoint-config", "--checkpoints", "--allow-unsafe-load"} <= flags(cmd), cmd
    for cmd in ("run", "train", "reproduce"):
        assert {"--device", "--no-progress"} <= flags(cmd), cmd
    for cmd in ("compare", "report"):
        assert {"--published", "--out", "--map"} <= flags(cmd), cmd
