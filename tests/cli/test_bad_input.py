"""Bad input, everywhere a user types something: each case below is driven through the CLI and must
end with exit code 2 and ONE line on stderr (``rfbench: error: ...``) that names the bad input and
what was expected, with no traceback.

``CASES`` is also the source of the "Bad input" table of docs/bad-input.md (``python
scripts/bad_input_table.py`` runs every case and prints it), so the table and the test cannot drift apart.

Placeholders in a case's argv (``{text_file}``, ``{out}``, ...) are files that :func:`make_inputs`
writes into a fresh folder: checkpoints (valid, truncated, pickled objects, the wrong network),
checkpoint lists, image folders and .npz files, results tables. All are tiny; no case trains a model
or runs a sweep cell.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch


@dataclass(frozen=True)
class Case:
    """``argv`` (with ``{placeholder}`` paths), the text the one-line message must contain, and
    ``cuda``: None (any machine), False (only where CUDA is not available)."""

    argv: tuple[str, ...]
    expect: str
    needs_no_cuda: bool = False
    env: tuple[tuple[str, str], ...] = ()  # environment variables set for the case (values may be placeholders)

    @property
    def id(self) -> str:
        return " ".join([f"{k}={v}" for k, v in self.env] + list(self.argv))


def C(argv: str | list[str], expect: str, env: dict[str, str] | None = None, **kw) -> Case:
    return Case(tuple(argv.split() if isinstance(argv, str) else argv), expect, env=tuple((env or {}).items()), **kw)


CASES: list[Case] = [
    # names
    C("run toy3d --out {out}", "unknown suite 'toy3d'"),
    C("run toy2d --models 2-rff --out {out}", "unknown model '2-rff'"),
    C("run toy2d --models 1-rf@mnist --out {out}", "model '1-rf' cannot be trained on dataset 'mnist'; expected one of"),
    C("run toy2d --models analytic-gmm-rf@moons --out {out}", "model 'analytic-gmm-rf' is analytic"),
    C("run toy2d --samplers huen --out {out}", "unknown sampler 'huen'. Did you mean 'heun'?"),
    C(["run", "toy2d", "--samplers", "heun", "--set", "grid=cosine", "--out", "{out}"], "suite 'toy2d' has no option 'grid'"),
    C("list solvers", "argument what: invalid choice: 'solvers'"),
    C("train 2-rff", "unknown model '2-rff'"),
    C("train 1-rf --data mnist", "model '1-rf' cannot be trained on dataset 'mnist'; expected one of"),
    C("train analytic-gmm-rf", "model 'analytic-gmm-rf' is analytic; only trained models can be trained"),
    # numbers
    C("run toy2d --nfe 0 --out {out}", "--nfe must be a list of positive integers, got [0]"),
    C("run toy2d --nfe -3 --out {out}", "--nfe must be a list of positive integers, got [-3]"),
    C("run toy2d --nfe a,b --out {out}", "argument --nfe: expected a comma-separated list of integers, got 'a,b'"),
    C(["run", "toy2d", "--nfe", "", "--out", "{out}"], "argument --nfe: expected a comma-separated list of integers, got ''"),
    C("run toy2d --nfe 2.5 --out {out}", "argument --nfe: expected a comma-separated list of integers, got '2.5'"),
    C("run toy2d --seeds -1 --out {out}", "--seeds must be non-negative integers, got [-1]"),
    C("run toy2d --seeds x --out {out}", "argument --seeds: expected a comma-separated list of integers, got 'x'"),
    C("run toy2d --n-samples 0 --out {out}", "--n-samples must be an integer >= 2, got 0"),
    C("run toy2d --n-samples -5 --out {out}", "--n-samples must be an integer >= 2, got -5"),
    C("run toy2d --n-samples many --out {out}", "argument --n-samples: invalid int value: 'many'"),
    C("train 1-rf --steps 0", "--steps must be a positive integer, got 0"),
    C("train 1-rf --seed -2", "--seed must be a non-negative integer, got -2"),
    C("run toy2d --nfe 100000000 --out {out}", "--nfe 100,000,000 is above rfbench's ceiling of 10,000 evaluations"),
    C("run toy2d --seeds 99999999999999999999 --out {out}", "--seeds must be below 2**63"),
    C("train 1-rf --steps 99999999999999999999999", "--steps must be at most 10,000,000"),
    C("train 1-rf --seed 99999999999999999999", "--seed must be below 2**63"),
    # the cache folder
    C("run toy2d --models analytic-gmm-rf --samplers euler --nfe 2 --out {out}", "is not a folder",
      env={"RFBENCH_CACHE": "{regular_file}"}),
    C("run toy2d --models analytic-gmm-rf --samplers euler --nfe 2 --out {out}", "is not a folder",
      env={"RFBENCH_CACHE": "{regular_file}/sub"}),
    # devices
    C("run toy2d --device tpu --out {out}", "--device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    C("run toy2d --device cuda --out {out}", "--device 'cuda' requested but CUDA is not available", needs_no_cuda=True),
    C("run toy2d --device cuda:7 --out {out}", "--device 'cuda:7'"),
    C("train 1-rf --device gpu", "--device must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
    # suite options (--set)
    C("run digits --set lpips_n --out {out}", "--set expects KEY=VALUE, got 'lpips_n'"),
    C("run digits --set lpips_m=5 --out {out}", "suite 'digits' has no option 'lpips_m'; valid options:"),
    C("run digits --set lpips_n=many --out {out}", "option lpips_n='many': expected an integer, like the default 0"),
    C("run cifar10 --set allow_missing=maybe --out {out}", "option allow_missing='maybe': expected a boolean"),
    # checkpoints: --checkpoint (suites that load checkpoints)
    C("run cifar10 --checkpoint mine={missing_pt}", "checkpoint mine:"),
    C("run cifar10 --checkpoint mine", "--checkpoint expects NAME=PATH, got 'mine'"),
    C("run cifar10 --checkpoint mine={text_file}", "could not be read as a torch checkpoint"),
    C("run cifar10 --checkpoint mine={truncated_pt}", "could not be read as a torch checkpoint"),
    C("run cifar10 --checkpoint mine={mlp_pt}", "is a bare state dict; describe it with family, net, net_config, data_shape"),
    C("run cifar10 --checkpoint mine={wrongnet_ckpt}", "does not match network MLP: shape mismatches"),
    C("run cifar10 --checkpoint mine={pickle_pt}", "needs full unpickling (it holds argparse.Namespace)"),
    C("run cifar10 --checkpoint mine={empty_folder}", "diffusers checkpoint"),
    C(["run", "cifar10", "--checkpoint", "my rf={empty_folder}"], "model name 'my rf' must be a non-empty string"),
    C("run cifar10 --checkpoint 1-rf={empty_folder}", "checkpoint name '1-rf' is taken by rfbench's trained model"),
    C("run toy2d --checkpoint mine={mlp_pt} --out {out}", "--checkpoint: suite 'toy2d' does not load checkpoints"),
    # checkpoints: --checkpoints FILE (a JSON list)
    C("run toy2d --checkpoints {missing_json} --out {out}", "checkpoint list"),
    C("run toy2d --checkpoints {bad_json} --out {out}", "is not valid JSON"),
    C("run toy2d --checkpoints {schema_json} --out {out}", "must be a JSON list of objects with 'name' and 'path'"),
    C("run toy2d --checkpoints {family_json} --out {out}", "family must be one of"),
    C("run toy2d --checkpoints {undescribed_json} --out {out}", "is a bare state dict; describe it with family, net, net_config, data_shape"),
    C("run toy2d --checkpoints {text_json} --out {out}", "could not be read as a torch checkpoint"),
    C("run toy2d --checkpoints {truncated_json} --out {out}", "could not be read as a torch checkpoint"),
    C("run toy2d --checkpoints {flipped_json} --out {out}", "is corrupted or was changed: sha256"),
    C("run toy2d --checkpoints {wrongnet_json} --out {out}", "does not match network MLP"),
    C("run toy2d --checkpoints {unet_json} --out {out}", "does not match network UNet"),
    C("run toy2d --checkpoints {pickle_json} --out {out}", "needs full unpickling"),
    C("run toy2d --checkpoints {badname_json} --out {out}", "checkpoint name 'my rf' must be a non-empty string"),
    C("run toy2d --checkpoints {taken_json} --out {out}", "checkpoint name '1-rf' is taken by rfbench's trained model"),
    C("run toy2d --checkpoints {key_json} --out {out}", "entry 0: unknown key 'famliy'; expected keys among"),
    C("run toy2d --checkpoints {sha_type_json} --out {out}", "entry 0: 'sha256' must be a string of 64 hex digits, got 123"),
    C("run toy2d --checkpoints {netcfg_type_json} --out {out}", "entry 0: 'net_config' must be an object"),
    C("run toy2d --checkpoints {shape_type_json} --out {out}", "entry 0: 'data_shape' must be a list of positive integers"),
    C("list --checkpoints {missing_json}", "checkpoint list"),
    # training data (--data-path)
    C("train 1-rf --data mine --data-path {broken_image_folder}", "could not be read as an image"),
    C("train 1-rf --data mine --data-path {mixed_size_folder}", "all images of a folder must have one size"),
    C("train 1-rf --data mine --data-path {empty_folder}", "holds no images"),
    C("train 1-rf --data mine --data-path {missing_folder}", "does not exist"),
    C("train 1-rf --data mine --data-path {npz_wrong_shape}", "expected (n, H, W), (n, C, H, W) or (n, H, W, C)"),
    C("train 1-rf --data mine --data-path {npz_no_array}", "holds no arrays; expected an image array"),
    C("train 1-rf --data mine --data-path {npz_bad_range}", "float images must lie in [0, 1] or [-1, 1]"),
    C("train 1-rf --data-path {npz_wrong_shape}", "--data-path needs --data NAME"),
    C("train 1-rf --data mine --data-path {npz_object}", "could not be read (Object arrays cannot be loaded"),
    # results tables (compare, report)
    C("compare {missing_dir}/results.csv", "does not exist; expected the results.csv"),
    C("compare {garbage_csv}", "is not an rfbench results table: missing column(s)"),
    C("compare {empty_csv}", "is not a readable CSV"),
    C("compare {good_csv} --map my-rf", "--map expects NAME=FAMILY/VARIANT"),
    C("compare {good_csv} --published {missing_dir}/published.csv", "published table"),
    C("report {missing_dir}", "does not exist; expected the results.csv"),
    C("report {garbage_dir}", "is not an rfbench results table"),
    C("compare {nfe_abc_csv}", "column 'nfe' holds 'abc'; expected a number"),
    C("report {nfe_abc_dir}", "column 'nfe' holds 'abc'; expected a number"),
    C("compare {no_measured_csv}", "missing column(s) nfe_measured"),
    C("report {no_measured_dir}", "missing column(s) nfe_measured"),
    # --smoke runs on stand-ins: a user's weights would be ignored
    C("run cifar10 --smoke --set fid_weights={text_file} --out {out}", "cannot be used with the stand-in (random) weights"),
    C("run cifar10 --smoke --set lpips_weights={text_file} --out {out}", "cannot be used with the stand-in (random) weights"),
    # output folders
    C("run toy2d --out {regular_file}", "is a file; expected a folder"),
    C("run toy2d --out {regular_file}/sub", "is a file; expected a folder"),
    C("compare {good_csv} --out {regular_file}", "is a file; expected a folder"),
    C("report {good_dir} --out {regular_file}", "is a file; expected a folder"),
    # the command line itself
    C("", "the following arguments are required: command"),
    C("run", "the following arguments are required: suite"),
    C("run toy2d --quick --bogus", "unrecognized arguments: --bogus"),
]


def _save_pickled(path: Path) -> None:
    """An rfbench-style checkpoint that also holds an argparse.Namespace (as old training scripts
    saved their arguments): loading it needs full unpickling."""
    from rfbench.models.formats.rfbench import make_checkpoint
    from rfbench.models.nets import MLP

    torch.manual_seed(0)
    net = MLP(dim=2, hidden=16, depth=2)
    ckpt = make_checkpoint("mine", net, net.config, train_config={"args": argparse.Namespace(lr=1e-3)})
    ckpt["model_config"] = {"param": "flow", "data_shape": [2]}
    torch.save(ckpt, path)


def make_inputs(root: Path) -> dict[str, str]:
    """Write every file the cases refer to under ``root``; return placeholder -> path."""
    from PIL import Image

    from rfbench.models.nets import MLP
    from rfbench.models.nets import UNet

    root.mkdir(parents=True, exist_ok=True)
    p: dict[str, Path] = {"out": root / "out", "missing_pt": root / "nothere.pt", "missing_json": root / "nothere.json",
                          "missing_dir": root / "nothere", "missing_folder": root / "no_images_here"}
    p["text_file"] = root / "notes.txt"
    p["text_file"].write_text("these are my notes, not weights\n")
    torch.manual_seed(0)
    p["mlp_pt"] = root / "mlp.pt"
    torch.save(MLP(dim=2, hidden=16, depth=2).state_dict(), p["mlp_pt"])
    data = p["mlp_pt"].read_bytes()
    p["truncated_pt"] = root / "truncated.pt"
    p["truncated_pt"].write_bytes(data[: len(data) // 2])
    p["flipped_pt"] = root / "flipped.pt"
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    p["flipped_pt"].write_bytes(bytes(flipped))
    p["unet_pt"] = root / "unet.pt"
    torch.save(UNet(channels=1, base=8, mults=(1,), blocks=1, image_size=8).state_dict(), p["unet_pt"])
    p["pickle_pt"] = root / "pickled.pt"
    _save_pickled(p["pickle_pt"])
    # an rfbench checkpoint whose recorded network config does not fit its weights
    from rfbench.models.formats.rfbench import make_checkpoint

    small = MLP(dim=2, hidden=16, depth=2)
    ckpt = make_checkpoint("mine", small, {**small.config, "hidden": 32})
    ckpt["model_config"] = {"param": "flow", "data_shape": [2]}
    p["wrongnet_ckpt"] = root / "wrongnet.pt"
    torch.save(ckpt, p["wrongnet_ckpt"])

    mlp_desc = {"family": "flow", "net": "MLP", "net_config": {"dim": 2, "hidden": 16, "depth": 2}, "data_shape": [2]}

    def listing(name: str, entries) -> Path:
        path = root / f"{name}.json"
        path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
        return path

    import hashlib

    p["bad_json"] = listing("bad", '[{"name": "mine", "path": "mlp.pt",}]')
    p["schema_json"] = listing("schema", {"mine": "mlp.pt"})
    p["family_json"] = listing("family", [{"name": "mine", "path": "mlp.pt", **mlp_desc, "family": "gan"}])
    p["undescribed_json"] = listing("undescribed", [{"name": "mine", "path": "mlp.pt"}])
    p["text_json"] = listing("text", [{"name": "mine", "path": "notes.txt", **mlp_desc}])
    p["truncated_json"] = listing("truncated", [{"name": "mine", "path": "truncated.pt", **mlp_desc}])
    p["flipped_json"] = listing("flipped", [{"name": "mine", "path": "flipped.pt", **mlp_desc,
                                             "sha256": hashlib.sha256(data).hexdigest()}])
    p["wrongnet_json"] = listing("wrongnet", [{"name": "mine", "path": "mlp.pt",
                                               **{**mlp_desc, "net_config": {"dim": 2, "hidden": 32, "depth": 2}}}])
    p["unet_json"] = listing("unet", [{"name": "mine", "path": "mlp.pt", "family": "flow", "net": "UNet",
                                       "net_config": {"channels": 1, "base": 8, "mults": [1], "image_size": 8},
                                       "data_shape": [1, 8, 8]}])
    p["pickle_json"] = listing("pickle", [{"name": "mine", "path": "pickled.pt"}])
    p["badname_json"] = listing("badname", [{"name": "my rf", "path": "mlp.pt", **mlp_desc}])
    p["taken_json"] = listing("taken", [{"name": "1-rf", "path": "mlp.pt", **mlp_desc}])
    p["key_json"] = listing("key", [{"name": "mine", "path": "mlp.pt", **mlp_desc, "famliy": "flow"}])
    p["sha_type_json"] = listing("sha_type", [{"name": "mine", "path": "mlp.pt", **mlp_desc, "sha256": 123}])
    p["netcfg_type_json"] = listing("netcfg_type", [{"name": "mine", "path": "mlp.pt", **{**mlp_desc, "net_config": [1, 2]}}])
    p["shape_type_json"] = listing("shape_type", [{"name": "mine", "path": "mlp.pt", **{**mlp_desc, "data_shape": 2}}])

    ok = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
    p["broken_image_folder"] = root / "broken_images"
    p["broken_image_folder"].mkdir()
    Image.fromarray(ok).save(p["broken_image_folder"] / "a.png")
    (p["broken_image_folder"] / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # header only
    p["mixed_size_folder"] = root / "mixed_images"
    p["mixed_size_folder"].mkdir()
    Image.fromarray(ok).save(p["mixed_size_folder"] / "a.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(p["mixed_size_folder"] / "b.png")
    p["empty_folder"] = root / "empty"
    p["empty_folder"].mkdir()
    p["npz_wrong_shape"] = root / "flat.npz"
    np.savez(p["npz_wrong_shape"], images=np.zeros((10, 64), np.uint8))
    p["npz_no_array"] = root / "nothing.npz"
    np.savez(p["npz_no_array"])
    p["npz_bad_range"] = root / "range.npz"
    np.savez(p["npz_bad_range"], images=np.full((4, 1, 8, 8), 200.0, np.float32))
    p["npz_object"] = root / "objects.npz"
    np.savez(p["npz_object"], images=np.array([np.zeros((8, 8)), "x"], dtype=object))

    p["garbage_csv"] = root / "garbage.csv"
    p["garbage_csv"].write_text("name,score\nfoo,1\n")
    p["garbage_dir"] = root / "garbage_run"
    p["garbage_dir"].mkdir()
    (p["garbage_dir"] / "results.csv").write_text("name,score\nfoo,1\n")
    p["empty_csv"] = root / "empty.csv"
    p["empty_csv"].write_text("")
    p["good_dir"] = root / "good_run"
    p["good_dir"].mkdir()
    p["good_csv"] = p["good_dir"] / "results.csv"
    p["good_csv"].write_text((Path(__file__).resolve().parents[1] / "data" / "compare" / "results.csv").read_text())
    good = pd.read_csv(p["good_csv"])
    p["nfe_abc_dir"], p["no_measured_dir"] = root / "nfe_abc_run", root / "no_measured_run"
    for folder in (p["nfe_abc_dir"], p["no_measured_dir"]):
        folder.mkdir()
    p["nfe_abc_csv"], p["no_measured_csv"] = p["nfe_abc_dir"] / "results.csv", p["no_measured_dir"] / "results.csv"
    good.astype({"nfe": object}).assign(nfe=["abc"] + list(good["nfe"][1:])).to_csv(p["nfe_abc_csv"], index=False)
    good.drop(columns=["nfe_measured"]).to_csv(p["no_measured_csv"], index=False)
    p["regular_file"] = root / "a_file"
    p["regular_file"].write_text("not a folder\n")
    return {k: str(v) for k, v in p.items()}


def run_case(case: Case, inputs: dict[str, str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``rfbench.cli.main`` on the case, in-process (the model and dataset
    registries are restored afterwards, as if each case were its own process)."""
    from rfbench.cli import main
    from rfbench.data import DATASETS
    from rfbench.models import MODELS

    import os

    argv = [a.format(**inputs) for a in case.argv]
    out, err = io.StringIO(), io.StringIO()
    saved = dict(MODELS._entries), dict(DATASETS._entries)
    env_before = {k: os.environ.get(k) for k, _ in case.env}
    os.environ.update({k: v.format(**inputs) for k, v in case.env})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code
    finally:
        MODELS._entries.clear(), MODELS._entries.update(saved[0])
        DATASETS._entries.clear(), DATASETS._entries.update(saved[1])
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue(), err.getvalue()


def shown_input(case: Case, inputs: dict[str, str]) -> str:
    """The argv as a user would type it, with temporary paths shortened to their file names."""
    import shlex

    short = {k: Path(v).name for k, v in inputs.items()}
    env = [f"{k}={shlex.quote(v.format(**short))}" for k, v in case.env]
    words = [shlex.quote(a.format(**short)) for a in case.argv]
    return " ".join([*env, "rfbench", *words])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad-input"))


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 24
    assert len({(c.env, c.argv) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id or "(no arguments)" for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, inputs):
    if case.needs_no_cuda and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, err = run_case(case, inputs)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("rfbench: error: "), err
    assert "Traceback" not in err
    assert case.expect in lines[0], lines[0]


def test_message_names_the_bad_value(inputs):
    """Spot checks that the message quotes the user's input, not only the rule."""
    for argv, value in [("run toy2d --nfe 0,4 --out {out}", "[0, 4]"),
                        ("run cifar10 --checkpoint mine={text_file}", "notes.txt"),
                        ("train 1-rf --data mine --data-path {broken_image_folder}", "b.png"),
                        ("run toy2d --out {regular_file}", "a_file")]:
        code, _, err = run_case(C(argv, ""), inputs)
        assert code == 2 and value in err, err


def test_bad_rerun_keeps_finished_cells(tmp_path):
    """Nothing already computed is lost: a rerun with a bad option fails before touching the records."""
    from rfbench.cli import main

    out = tmp_path / "run"
    base = ["run", "toy2d", "--models", "analytic-gmm-rf", "--samplers", "euler", "--nfe", "2,4", "--n-samples", "64",
            "--out", str(out), "--no-progress"]
    assert main(base) == 0
    files = sorted(p for p in out.rglob("*") if p.is_file())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    assert len([p for p in files if p.parent.name == "cells"]) == 2
    for bad in (["--nfe", "0"], ["--device", "tpu"], ["--set", "x=1"], ["--seeds", "-1"], ["--samplers", "huen"],
                ["--models", "analytic-gmm-rf@moons"]):
        argv = base + bad  # the later value of a repeated option wins
        assert main(argv) == 2
    after = sorted(p for p in out.rglob("*") if p.is_file())
    assert after == files
    assert all((p.read_bytes(), p.stat().st_mtime_ns) == before[p] for p in files)
    # and the records are still reused
    assert main(base) == 0



# -- safe loading: --allow-unsafe-load --------------------------------------------------------------
def _lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.strip()]


@pytest.fixture
def pickled(tmp_path, request):
    """A fresh pickled checkpoint and its checkpoint list (fresh paths: the warning is once per file)."""
    from rfbench.models import MODELS

    path = tmp_path / "pickled.pt"
    _save_pickled(path)
    listing = tmp_path / "ckpts.json"
    listing.write_text(json.dumps([{"name": "test-unsafe", "path": "pickled.pt"}]))
    yield path, listing
    MODELS._entries.pop("test-unsafe", None)  # registered by the Python test (run_case restores by itself)


def test_unsafe_checkpoint_is_refused_without_the_flag(pickled):
    path, listing = pickled
    for argv in (["list", "models", "--checkpoints", str(listing)],
                 ["train", "test-unsafe", "--checkpoints", str(listing)],
                 ["run", "cifar10", "--checkpoint", f"test-unsafe={path}"]):
        code, _, err = run_case(C(argv, ""), {})
        assert code == 2 and len(_lines(err)) == 1, err
        assert str(path) in err and "needs full unpickling" in err and "--allow-unsafe-load" in err, err


def test_allow_unsafe_load_loads_with_one_warning(pickled, tmp_path):
    path, listing = pickled
    # run: registered (file read), then sampled in a sweep (read again): one warning, naming the file
    out = tmp_path / "out"
    code, stdout, err = run_case(C(["run", "toy2d", "--checkpoints", str(listing), "--allow-unsafe-load",
                                    "--models", "test-unsafe", "--samplers", "euler", "--nfe", "2",
                                    "--n-samples", "16", "--out", str(out), "--no-progress"], ""), {})
    assert code == 0, err
    warned = [ln for ln in _lines(err) if "full unpickling" in ln]
    assert len(warned) == 1 and str(path) in warned[0] and warned[0].startswith("rfbench: warning:"), err
    assert "1 cells (1 computed" in stdout
    # train and list accept the flag too (train then refuses the model itself: it is not trainable)
    code, _, err = run_case(C(["train", "test-unsafe", "--checkpoints", str(listing), "--allow-unsafe-load"], ""), {})
    assert code == 2 and "is external; only trained models can be trained" in err, err
    assert run_case(C(["list", "models", "--checkpoints", str(listing), "--allow-unsafe-load"], ""), {})[0] == 0


def test_allow_unsafe_in_python(pickled):
    from rfbench.errors import CheckpointError
    from rfbench.models import get_model, register_checkpoint
    from rfbench.models.formats.rfbench import allow_unsafe_load, read_checkpoint

    path, _ = pickled
    with pytest.raises(CheckpointError, match=r"needs full unpickling \(it holds argparse.Namespace\)"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="--allow-unsafe-load"):
        register_checkpoint("test-unsafe", path)
    with pytest.warns(UserWarning, match=rf"{path}.*full unpickling"):
        ckpt = read_checkpoint(path, allow_unsafe=True)
    assert isinstance(ckpt["train_config"]["args"], argparse.Namespace)
    register_checkpoint("test-unsafe", path, allow_unsafe=True, replace=True)  # warned once per file already
    assert get_model("test-unsafe").velocity(torch.zeros(3, 2), 0.5).shape == (3, 2)
    with allow_unsafe_load():  # the CLI flag's process default
        assert read_checkpoint(path)["model"] == "mine"
    with pytest.raises(CheckpointError):
        read_checkpoint(path)  # the default is restored after the block


def test_readme_table_lists_every_case(inputs):
    """The "Bad input" table (docs/bad-input.md, linked from the README's "Bad input" section) is
    generated from CASES (scripts/bad_input_table.py): no case missing."""
    root = Path(__file__).resolve().parents[2]
    assert "docs/bad-input.md" in (root / "README.md").read_text()
    page = (root / "docs/bad-input.md").read_text()
    section = page[page.index("| input tried |"):]
    missing = [shown_input(c, inputs) for c in CASES if f"| `{shown_input(c, inputs)}` |" not in section]
    assert not missing, f"rerun `python scripts/bad_input_table.py` and paste its output into docs/bad-input.md: {missing}"


@pytest.mark.parametrize("args,needle", [
    (["--rfbench-nfe", "two"], "--rfbench-nfe expects a comma-separated list of integers, got 'two'"),
    (["--rfbench-nfe", "100000000"], "--rfbench-nfe 100,000,000 is above rfbench's ceiling"),
    (["--rfbench-seeds", "99999999999999999999"], "--rfbench-seeds must be below 2**63"),
    (["--rfbench-device", "tpu"], "--rfbench-device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    (["--rfbench-samplers", "huen"], "unknown sampler 'huen'"),
    (["--rfbench-out", "a_file"], "--rfbench-out a_file is a file; expected a folder"),
])
def test_pytest_plugin_bad_values_name_the_option(pytester, args, needle):
    """A bad plugin option is a usage error that names it, not a collection traceback."""
    pytester.makepyfile(toy2d_suite=(Path(__file__).resolve().parents[2] / "suites" / "test_suite.py").read_text())
    (pytester.path / "a_file").write_text("not a folder\n")
    res = pytester.runpytest_subprocess("toy2d_suite.py", "--rfbench-suite", "toy2d", "--rfbench-models",
                                        "analytic-gmm-rf", *args, "-q")
    text = res.stderr.str() + res.stdout.str()
    assert res.ret == pytest.ExitCode.USAGE_ERROR, text
    assert needle in text and "Traceback" not in text, text


def test_pytest_plugin_refuses_a_malformed_set(pytester):
    """The pytest route: --rfbench-set without '=' was silently dropped; now it is a usage error."""
    pytester.makepyfile(toy2d_suite=(Path(__file__).resolve().parents[2] / "suites" / "test_suite.py").read_text())
    res = pytester.runpytest_subprocess("toy2d_suite.py", "--rfbench-suite", "toy2d", "--rfbench-set", "fid_n",
                                        "--rfbench-nfe", "2", "-q")
    assert res.ret != 0
    assert "--rfbench-set expects KEY=VALUE, got 'fid_n'" in res.stderr.str() + res.stdout.str()
