"""Cell records and cache files that cannot go stale or wrong (issue 18, items 7-10 and 13).

* the machine's failures (a full disk, a cache path that is a file, out of memory) are never stored as a
  cell's result: the run stops with one line and a non-zero exit, and a rerun after the cause is gone
  computes the cell;
* a record with a bad byte or an edited number is named, moved aside and recomputed;
* two cells never share a record file; names never lead a cache path out of its folder;
* a reader never sees a cache file without its matching hash; killed writers' temporary files are
  cleaned; files get the user's umask.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from rfbench import cache
from rfbench.runner.records import CellStore

SMALL = ["--models", "analytic-gmm-rf", "--samplers", "euler", "--nfe", "2", "--n-samples", "50", "--no-progress"]


@pytest.fixture
def cold_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("RFBENCH_CACHE", str(root))
    return root


def _main(argv, capsys):
    from rfbench.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, [ln for ln in err.splitlines() if ln.strip()]


# -- item 7: the machine's failures are not the cell's -----------------------------------------------
def test_cache_path_that_is_a_file_is_bad_input_and_nothing_is_stored(tmp_path, monkeypatch, capsys):
    """The audit's reproduction: RFBENCH_CACHE=<a regular file>, then the same with a good cache."""
    bad = tmp_path / "a_file"
    bad.write_text("not a folder\n")
    monkeypatch.setenv("RFBENCH_CACHE", str(bad))
    out = tmp_path / "o"
    code, _, err = _main(["run", "toy2d", *SMALL, "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1 and "is not a folder" in err[0] and str(bad) in err[0], err
    assert not list(out.glob("cells/*.json"))
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "good"))
    code, stdout, err = _main(["run", "toy2d", *SMALL, "--out", str(out)], capsys)
    assert code == 0 and "1 cells (1 computed, 0 reused, 0 failed)" in stdout, (stdout, err)


def _full_disk(monkeypatch, where: str):
    """Writes under ``where`` fail as on a full disk (ENOSPC), as the file system reports it."""
    real = cache._stage

    def stage(path, data):
        if where in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(cache, "_stage", stage)


def test_full_cache_disk_stops_the_run_and_records_nothing(tmp_path, cold_cache, monkeypatch, capsys):
    out = tmp_path / "o"
    argv = ["run", "toy2d", "--models", "analytic-gmm-rf", "--samplers", "euler,heun", "--nfe", "2,4",
            "--n-samples", "50", "--no-progress", "--out", str(out)]
    _full_disk(monkeypatch, "references")
    code, stdout, err = _main(argv, capsys)
    assert code == 3, (stdout, err)
    assert len(err) == 1 and "No space left on device" in err[0] and "nothing was recorded" in err[0], err
    assert not list(out.glob("cells/*.json"))  # the first cell stopped the run: no failed record
    monkeypatch.undo()
    monkeypatch.setenv("RFBENCH_CACHE", str(cold_cache))
    code, stdout, err = _main(argv, capsys)
    assert code == 0 and "4 cells (4 computed, 0 reused, 0 failed)" in stdout, (stdout, err)


def test_full_output_disk_stops_the_run(tmp_path, cold_cache, monkeypatch, capsys):
    out = tmp_path / "o"
    _full_disk(monkeypatch, str(out / "cells"))
    code, _, err = _main(["run", "toy2d", *SMALL, "--out", str(out)], capsys)
    assert code == 3 and len(err) == 1 and "No space left on device" in err[0], err


def test_out_of_memory_is_not_a_failed_cell(tmp_path, cold_cache, capsys):
    from rfbench.samplers import SAMPLERS, SamplerSpec, register_sampler

    def greedy(model, x, ts):
        raise MemoryError()

    register_sampler(SamplerSpec("test-oom", greedy, 1, "1", "-", "runs out of memory"))
    try:
        code, _, err = _main(["run", "toy2d", "--models", "analytic-gmm-rf", "--samplers", "euler,test-oom",
                              "--nfe", "2", "--n-samples", "50", "--no-progress", "--out", str(tmp_path / "o")], capsys)
    finally:
        SAMPLERS._entries.pop("test-oom")
    assert code == 3 and len(err) == 1 and "out of memory" in err[0] and "test-oom" in err[0], err
    records = list((tmp_path / "o" / "cells").glob("*.json"))
    assert len(records) == 1 and "euler" in records[0].name  # the finished cell is kept, the other has none


def _can_mount_tmpfs() -> str | None:
    if not shutil.which("unshare"):
        return "no unshare command"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=8k tmpfs $d && umount $d"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot mount a tmpfs here ({probe.stderr.strip()[:80]})"


def test_full_disk_on_a_real_tmpfs(tmp_path):
    """The same on a real 8 KiB tmpfs as the cache (a user and mount namespace; skipped where that is not allowed)."""
    why = _can_mount_tmpfs()
    if why:
        pytest.skip(f"full-disk test needs a small tmpfs: {why}")
    small = tmp_path / "small"
    small.mkdir()
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "rfbench.cli", "run", "toy2d", "--models", "analytic-gmm-rf", "--samplers",
           "euler", "--nfe", "2", "--n-samples", "1000", "--no-progress", "--out", str(out)]
    env = {**os.environ, "RFBENCH_CACHE": str(small)}
    script = f"mount -t tmpfs -o size=8k tmpfs {small} && exec \"$@\""
    full = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *cmd],
                          capture_output=True, text=True, env=env, timeout=600)
    lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
    assert full.returncode == 3, full.stderr
    assert len(lines) == 1 and "No space left on device" in lines[0], full.stderr
    assert not list(out.glob("cells/*.json"))
    again = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RFBENCH_CACHE": str(tmp_path / "c")},
                           timeout=600)
    assert again.returncode == 0 and "1 cells (1 computed, 0 reused, 0 failed)" in again.stdout, again.stderr


def test_pytest_plugin_stops_on_a_full_disk(pytester, tmp_path):
    pytester.makepyfile(toy2d_suite=(Path(__file__).resolve().parents[2] / "suites" / "test_suite.py").read_text())
    pytester.makeconftest(
        "import errno, os\n"
        "from rfbench import cache\n"
        "def _stage(path, data):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))\n"
        "cache._stage = _stage\n")
    res = pytester.runpytest_subprocess("toy2d_suite.py", "--rfbench-suite", "toy2d", "--rfbench-models",
                                        "analytic-gmm-rf", "--rfbench-samplers",
                                        "euler,heun", "--rfbench-nfe", "2", "--rfbench-out", str(tmp_path / "o"), "-q")
    text = res.stdout.str() + res.stderr.str()
    assert res.ret == 3, text
    assert "No space left on device" in text
    assert not list((tmp_path / "o").glob("cells/*.json"))


# -- item 8: records are checked ------------------------------------------------------------------
def _one_run(tmp_path, capsys):
    out = tmp_path / "o"
    code, stdout, err = _main(["run", "toy2d", *SMALL, "--out", str(out)], capsys)
    assert code == 0, err
    return out, next((out / "cells").glob("*.json"))


def test_undecodable_record_is_named_moved_aside_and_recomputed(tmp_path, cold_cache, capsys):
    out, record = _one_run(tmp_path, capsys)
    first = pd.read_csv(out / "results.csv")["ref_rmse"].iloc[0]
    data = bytearray(record.read_bytes())
    data[len(data) // 2] = 0xFF  # one byte that is not UTF-8
    record.write_bytes(bytes(data))
    code, stdout, err = _main(["run", "toy2d", *SMALL, "--out", str(out)], capsys)
    assert code == 0 and "(1 computed, 0 reused" in stdout, err
    warned = [ln for ln in err if "warning" in ln]
    assert len(warned) == 1 and record.name in warned[0] and "unreadable" in warned[0], err
    assert list((out / "cells").glob(record.name + ".corrupt-*"))
    assert pd.read_csv(out / "results.csv")["ref_rmse"].iloc[0] == first


def test_edited_record_is_not_reused(tmp_path, cold_cache, capsys):
    out, record = _one_run(tmp_path, capsys)
    first = pd.read_csv(out / "results.csv")["ref_rmse"].iloc[0]
    rec = json.loads(record.read_text())
    rec["row"]["ref_rmse"] *= 10  # still valid JSON, with the same hashes
    record.write_text(json.dumps(rec, indent=1))
    code, stdout, err = _main(["run", "toy2d", *SMALL, "--out", str(out)], capsys)
    assert code == 0 and "(1 computed, 0 reused" in stdout, err
    assert any("does not match its checksum" in ln and record.name in ln for ln in err), err
    assert pd.read_csv(out / "results.csv")["ref_rmse"].iloc[0] == first


def test_store_rows_and_old_records(tmp_path):
    store = CellStore(tmp_path)
    store.save("c-b", "h", "code", {"x": 2.0, "y": float("nan")})
    store.save("c-a", "h", "code", {"x": 1.0})
    (store.dir / "c-z.json").write_text(json.dumps({"cell": "c-z", "config_hash": "h", "code_hash": "code",
                                                    "row": {"x": 3.0}}))  # format 1: never trusted
    rows = store.rows()
    assert [r["x"] for r in rows] == [1.0, 2.0] and rows[1]["y"] != rows[1]["y"]
    assert store.fresh("c-a", "h", "code")["row"] == {"x": 1.0}
    assert store.fresh("c-a", "other", "code") is None and store.fresh("c-a", None, "code") is None
    assert store.fresh("c-z", "h", "code") is None
    store.save("c-z", "h", "code", {"x": 3.0})
    assert not (store.dir / "c-z.json").exists()  # the old file of the same cell is replaced


# -- item 9: one file per cell --------------------------------------------------------------------
def test_colliding_cell_ids_get_their_own_records(tmp_path, cold_cache):
    from rfbench.models import MODELS, ModelEntry, get_model, register_model
    from rfbench import run_suite
    from rfbench.runner.suite import Cell, ModelSpec

    a, b = Cell("toy2d", ModelSpec("x-edm"), "heun", 2, 0), Cell("toy2d", ModelSpec("x"), "edm-heun", 2, 0)
    assert a.id == b.id and a.key != b.key  # the readable ids collide, the keys do not
    store = CellStore(tmp_path / "s")
    assert store.path(a.key) != store.path(b.key)
    store.save(a.key, "h", "code", {"who": "a"})
    store.save(b.key, "h", "code", {"who": "b"})
    assert store.fresh(a.key, "h", "code")["row"] == {"who": "a"} and store.fresh(b.key, "h", "code")["row"] == {"who": "b"}
    for name in ("test-x-edm", "test-x"):
        register_model(ModelEntry(name, lambda name=name: _named(get_model("analytic-pfgmpp-dinf"), name),
                                  "analytic", "analytic", "a renamed oracle"))
    try:
        kw = dict(models=["test-x-edm", "test-x"], samplers=["heun", "edm-heun"], nfe=[2], n_samples=16,
                  progress=False, out=tmp_path / "o")
        first = run_suite("toy2d", **kw)
        assert first["summary"]["computed"] == 4
        names = {p.name for p in (tmp_path / "o" / "cells").glob("*.json")}
        assert len(names) == 4
        assert run_suite("toy2d", **kw)["summary"]["reused"] == 4
    finally:
        MODELS._entries.pop("test-x-edm"), MODELS._entries.pop("test-x")


def _named(model, name):
    model.name = name
    return model


# -- item 10: names stay inside their folders -----------------------------------------------------
@pytest.mark.parametrize("name", ["../../escaped-boss", "/tmp/abs", "a/b", "", "..", "x" * 200])
def test_model_names_that_leave_a_folder_are_refused(name):
    from rfbench.errors import InvalidInputError
    from rfbench.models import from_velocity

    with pytest.raises(InvalidInputError, match="model name"):
        from_velocity(lambda x, t: -x, data_shape=(2,), name=name)


def test_cache_file_refuses_escaping_names(cold_cache):
    from rfbench.errors import InvalidInputError
    from rfbench.models import get_model

    for bad in ("../x.pt", "/tmp/x.pt", "a/b.pt", ".."):
        with pytest.raises(InvalidInputError):
            cache.cache_file("boss", bad)
    model = get_model("analytic-gmm-rf")
    with pytest.raises(InvalidInputError):
        model.name = "../../escaped-boss"
    assert model.name == "analytic-gmm-rf"
    assert cache.cache_file("boss", "analytic-gmm-rf-0123.pt").parent == cold_cache / "boss"


# -- item 13: concurrent readers, temporary files, permissions ----------------------------------------
def test_reader_racing_a_writer_never_sees_a_mismatched_pair(tmp_path):
    path = tmp_path / "c" / "thing.pt"
    payloads = [os.urandom(50_000), os.urandom(70_000)]
    cache.write_verified(path, payloads[0])
    stop, seen, errors = threading.Event(), [], []

    def write():
        i = 0
        while not stop.is_set():
            cache.write_verified(path, payloads[i % 2])
            i += 1

    def read():
        while not stop.is_set():
            try:
                seen.append(cache.read_verified(path, retry_s=0.0) in payloads)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(seen) > 10 and all(seen)


def test_stale_temporary_files_are_cleaned(tmp_path, cold_cache):
    folder = cold_cache / "boss"
    folder.mkdir(parents=True)
    old, young = folder / ".a.pt.xyz.tmp", folder / ".b.pt.xyz.tmp"
    for p in (old, young):
        p.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * cache.STALE_TMP_S,) * 2)
    cache._CLEANED.discard(str(folder))
    cache.cache_dir("boss")
    assert not old.exists() and young.exists()  # a live writer's file is left alone
    cells = tmp_path / "o" / "cells"
    cells.mkdir(parents=True)
    stale = cells / ".c.json.abc.tmp"
    stale.write_text("{")
    os.utime(stale, (time.time() - 2 * cache.STALE_TMP_S,) * 2)
    CellStore(tmp_path / "o")
    assert not stale.exists()


def test_files_follow_the_umask(tmp_path):
    before = os.umask(0o022)
    try:
        cache.write_verified(tmp_path / "x.pt", b"data")
        CellStore(tmp_path / "o").save("c", "h", "code", {"x": 1.0})
        files = [tmp_path / "x.pt", tmp_path / "x.pt.sha256", *(tmp_path / "o" / "cells").glob("*.json")]
        assert all((p.stat().st_mode & 0o777) == 0o644 for p in files), [oct(p.stat().st_mode) for p in files]
    finally:
        os.umask(before)


def test_cache_value_roundtrip_still_verifies(tmp_path):
    value, hit = cache.cached(tmp_path / "v.pt", lambda: {"w": torch.arange(3.0)})
    assert not hit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, hit = cache.cached(tmp_path / "v.pt", lambda: {"w": torch.zeros(3)})
    assert hit and torch.equal(again["w"], torch.arange(3.0))
