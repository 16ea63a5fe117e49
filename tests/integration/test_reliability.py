"""Sweeps survive interruption, caches survive corruption, numbers are reproducible."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from rfbench import cache
from rfbench import run_suite

CELLS = ["--models", "analytic-gmm-rf,analytic-gmm-vp", "--samplers", "euler,heun",
         "--nfe", ",".join(map(str, range(1, 13)))]
N_CELLS = 2 * 2 * 12


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.json"))}


def test_sigkill_mid_sweep_then_rerun_completes_without_recomputing(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rfbench.cli", "run", "toy2d", *CELLS, "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    cells = out / "cells"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if cells.exists() and len(list(cells.glob("*.json"))) >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _digest(cells)
    assert 5 <= len(before) < N_CELLS
    assert not (out / "results.csv").exists()  # killed before the table was assembled

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{N_CELLS} cells ({N_CELLS - len(before)} computed, {len(before)} reused" in again.stdout
    after = _digest(cells)
    assert all(after[name] == digest for name, digest in before.items())  # finished cells untouched
    df = pd.read_csv(out / "results.csv")
    assert len(df) == N_CELLS
    assert not df.duplicated(["model", "sampler", "nfe", "seed"]).any()
    assert (df["status"] == "ok").all()


def test_generic_cache_detects_corruption_moves_it_aside_and_rebuilds(tmp_path):
    path = tmp_path / "thing.pt"
    builds = []

    def build():
        builds.append(1)
        return {"w": torch.arange(5.0)}

    value, hit = cache.cached(path, build)
    assert not hit and len(builds) == 1
    value, hit = cache.cached(path, build)
    assert hit and len(builds) == 1 and torch.equal(value["w"], torch.arange(5.0))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupted.*moved it to thing.pt.corrupt-"):
        value, hit = cache.cached(path, build)
    assert not hit and len(builds) == 2 and torch.equal(value["w"], torch.arange(5.0))
    assert list(tmp_path.glob("thing.pt.corrupt-*"))
    # a truncated file and a missing hash record are detected too
    path.write_bytes(path.read_bytes()[:10])
    with pytest.warns(UserWarning, match="corrupted"):
        cache.cached(path, build)
    path.with_name("thing.pt.sha256").unlink()
    with pytest.warns(UserWarning, match="no hash record"):
        cache.cached(path, build)
    assert len(builds) == 4


def _corrupt(path):
    data = bytearray(path.read_bytes())
    for i in range(100, len(data), max(1, len(data) // 7)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_corrupted_checkpoint_is_rebuilt(monkeypatch, tmp_path):
    from rfbench.training import load_trained, make_recipe

    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))
    recipe = make_recipe("1-rf", steps=40, n_train=2000)
    first = load_trained(recipe, progress=False)
    ckpt = next((tmp_path / "checkpoints").glob("1-rf-*.pt"))
    _corrupt(ckpt)
    with pytest.warns(UserWarning, match="corrupted"):
        rebuilt = load_trained(recipe, progress=False)
    assert not rebuilt.meta["cache_hit"]
    for p, q in zip(first.parameters(), rebuilt.parameters()):  # deterministic retraining
        assert torch.equal(p, q)
    assert load_trained(recipe, progress=False).meta["cache_hit"]


def test_corrupted_reference_solution_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "cache"))
    kw = dict(models=["analytic-gmm-rf"], samplers=["euler"], nfe=[2], n_samples=200, progress=False)
    first = run_suite("toy2d", out=tmp_path / "a", **kw)["frame"]
    ref = next((tmp_path / "cache" / "references").glob("*.pt"))
    _corrupt(ref)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = run_suite("toy2d", out=tmp_path / "b", **kw)["frame"]
    assert any("corrupted" in str(w.message) for w in caught)
    assert first["ref_rmse"].iloc[0] == second["ref_rmse"].iloc[0]


METRIC_COLUMNS = ["nfe_measured", "ref_rmse", "w2", "sw2", "w2_floor", "straightness", "ref_nfe"]


def test_same_seed_gives_bit_identical_metrics(tmp_path):
    kw = dict(models=["analytic-gmm-rf", "analytic-pfgmpp-d128"], samplers=["euler", "heun", "dopri5"], nfe=[2, 8],
              progress=False)
    a = run_suite("toy2d", out=tmp_path / "a", **kw)["frame"]
    b = run_suite("toy2d", out=tmp_path / "b", **kw)["frame"]
    pd.testing.assert_frame_equal(a[METRIC_COLUMNS], b[METRIC_COLUMNS], check_exact=True)
    for col in ("seed", "device", "dtype", "torch_version", "rfbench_version", "git_commit", "code_hash"):
        assert col in a.columns, col
    # every row records what produced it: seed, device, dtype, versions, commit
    import rfbench
    from rfbench.runner.environment import code_hash, git_commit

    assert (a["seed"] == 0).all() and (a["device"] == "cpu").all() and (a["dtype"] == "float32").all()
    assert (a["torch_version"] == torch.__version__).all() and (a["rfbench_version"] == rfbench.__version__).all()
    assert (a["code_hash"] == code_hash()).all()
    if (Path(rfbench.__file__).resolve().parents[1] / ".git").exists():  # a checkout (a worktree's .git is a file)
        assert git_commit() is not None and (a["git_commit"] == git_commit()).all()
    c = run_suite("toy2d", out=tmp_path / "c", **{**kw, "models": ["analytic-gmm-rf"], "samplers": ["euler"],
                                                  "nfe": [2], "n_samples": 200}, seeds=[3])["frame"]
    assert (c["seed"] == 3).all()


def test_cell_record_survives_partial_write(tmp_path):
    """A record is written to a temporary file then renamed: a leftover temp file is ignored."""
    from rfbench.runner.records import CellStore

    store = CellStore(tmp_path)
    store.save("c1", "h", "code", {"x": 1.0})
    (store.dir / ".c2.json.abc.tmp").write_text('{"cell": "c2", "row": {"x"')  # a killed writer's leftover
    assert store.rows() == [{"x": 1.0}]
    assert json.loads(store.path("c1").read_text())["row"] == {"x": 1.0}


def test_sigterm_keeps_finished_cells_and_says_so(tmp_path):
    """SIGTERM (a scheduler's stop) ends like Ctrl-C: the same one line, exit 143, records intact."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rfbench.cli", "run", "toy2d", *CELLS, "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cells = out / "cells"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if cells.exists() and len(list(cells.glob("*.json"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be stopped; make it longer"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert proc.returncode == 143, err
    assert lines[-1] == "rfbench: terminated (SIGTERM); finished cells are kept and a rerun resumes", err
    from rfbench.runner.records import CellStore

    kept = CellStore(out).rows()
    assert len(kept) >= 2 and all(r["status"] == "ok" for r in kept)
