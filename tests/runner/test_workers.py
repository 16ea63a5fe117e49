"""Many workers, one store (issue 13): claims, concurrent workers, SIGKILL, shards, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rfbench.errors import InvalidInputError
from rfbench.runner.claims import Claims
from rfbench.runner.workers import parse_shard, select

# 2 analytic models x 2 samplers x 3 NFE = 12 small cells (no training)
SWEEP = ["toy2d", "--quick", "--models", "analytic-gmm-rf,analytic-gmm-vp", "--samplers", "euler,heun",
         "--nfe", "1,2,4", "--n-samples", "100", "--no-progress"]
N_CELLS = 12
TIMING = ("wall_clock_s", "cell_seconds", "timing", "seconds", "_s")


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rfbench", "run", *SWEEP, "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen], timeout: float = 600) -> list[str]:
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        assert p.returncode == 0, stderr[-2000:]
        outs.append(stdout)
    return outs


def _computed(stdout: str) -> int:
    line = next(ln for ln in stdout.splitlines() if " cells" in ln and "computed" in ln)
    return int(line.split("(")[-1].split(" computed")[0])


def _records(out: Path) -> dict[str, dict]:
    recs = {}
    for p in (out / "cells").glob("*.json"):
        rec = json.loads(p.read_text())
        recs[rec["cell"]] = rec
    return recs


def _values(rec: dict) -> dict:
    return {k: v for k, v in rec["row"].items() if not any(t in k for t in TIMING)}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    stdout, = _finish([_start(out)])
    assert _computed(stdout) == N_CELLS
    return out


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_workers_compute_each_cell_once(tmp_path, one_worker, workers):
    procs = [_start(tmp_path) for _ in range(workers)]
    outs = _finish(procs)
    assert sum(_computed(o) for o in outs) == N_CELLS  # every cell exactly once over all workers
    recs, ref = _records(tmp_path), _records(one_worker)
    assert sorted(recs) == sorted(ref) and len(recs) == N_CELLS
    for key, rec in recs.items():
        assert _values(rec) == _values(ref[key]), key
        assert rec["worker"]["pid"] in {p.pid for p in procs}
    assert not list((tmp_path / "cells" / ".claims").glob("*.claim"))  # every claim released
    # every worker waited for the others and wrote the complete table
    assert all("wrote" in o for o in outs)
    import pandas as pd

    a, b = pd.read_csv(tmp_path / "results.csv"), pd.read_csv(one_worker / "results.csv")
    cols = [c for c in b.columns if not any(t in c for t in TIMING)]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    # a rerun finds every record fresh
    assert _computed(_finish([_start(tmp_path)])[0]) == 0


def test_sigkill_mid_cell_leaves_cells_to_the_others(tmp_path, one_worker):
    procs = [_start(tmp_path) for _ in range(2)]
    claims = tmp_path / "cells" / ".claims"
    victim, victim_cell = None, None
    deadline = time.time() + 300
    while victim is None and time.time() < deadline:
        for path in claims.glob("*.claim") if claims.is_dir() else []:
            try:
                info = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            victim = next((p for p in procs if p.pid == info["pid"]), None)
            if victim is not None:
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                # the killed worker cannot drop its claim: if the claim is still there, it died mid-cell
                victim_cell = info["cell"] if path.is_file() else None
                break
        time.sleep(0.005)
    assert victim is not None, "no worker claimed a cell"
    survivor = next(p for p in procs if p is not victim)
    out, = _finish([survivor])
    recs = _records(tmp_path)
    assert len(recs) == N_CELLS
    ref = _records(one_worker)
    assert all(_values(rec) == _values(ref[k]) for k, rec in recs.items())
    if victim_cell is not None:  # the survivor took it over and said so in the record
        took = recs[victim_cell]["worker"]["took_over"]
        assert took["pid"] == victim.pid and "gone" in took["reason"]
        assert recs[victim_cell]["worker"]["pid"] == survivor.pid
    assert _computed(_finish([_start(tmp_path)])[0]) == 0  # the rerun computes nothing


def test_shards_and_report(tmp_path, one_worker):
    first, = _finish([_start(tmp_path, "--shard", "0/2")])
    assert "other workers" in first and not (tmp_path / "results.csv").exists()
    from rfbench.cli import main

    assert main(["report", str(tmp_path)]) == 0  # a half-filled store: the table from the records there
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "results.csv")) == N_CELLS // 2
    env = {**os.environ, "JOB_COMPLETION_INDEX": "1"}
    second = subprocess.run([sys.executable, "-m", "rfbench", "run", *SWEEP, "--out", str(tmp_path), "--shard",
                             "auto/2"], capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert _computed(first) + _computed(second.stdout) == N_CELLS
    assert "wrote" in second.stdout  # the last shard writes the table
    assert len(pd.read_csv(tmp_path / "results.csv")) == N_CELLS
    recs, ref = _records(tmp_path), _records(one_worker)
    assert {k: _values(r) for k, r in recs.items()} == {k: _values(r) for k, r in ref.items()}
    assert main(["report", str(tmp_path)]) == 0


def test_parse_shard():
    assert parse_shard(None) is None
    assert parse_shard("1/4") == (1, 4)
    assert parse_shard("auto", {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5",
                                "SLURM_ARRAY_TASK_COUNT": "3"}) == (2, 3)
    assert parse_shard("auto/5", {"JOB_COMPLETION_INDEX": "4"}) == (4, 5)
    for bad, env in (("4/4", {}), ("x/2", {}), ("2", {}), ("auto", {}), ("auto", {"JOB_COMPLETION_INDEX": "1"}),
                     ("-1/3", {})):
        with pytest.raises(InvalidInputError, match="shard"):
            parse_shard(bad, env)
    cells = list(range(10))
    parts = [select(cells, (i, 3)) for i in range(3)]
    assert sorted(sum(parts, [])) == cells and parts[0] == [0, 3, 6, 9]


def test_claims_live_dead_and_timed_out(tmp_path):
    claims = Claims(tmp_path, timeout=60)
    rec = tmp_path / "cell-abc.json"
    mine = claims.acquire("k", rec)
    assert mine is not None and claims.holds(mine)
    assert Claims(tmp_path, timeout=60).acquire("k", rec) is None  # live (this process) -> not taken
    claims.release(mine)
    assert not claims.path(rec).exists()
    # a claim by a process that has exited is taken over at once, and the takeover says why
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    info = {"pid": pid, "host": os.uname().nodename, "token": "t-dead", "started": time.time()}
    claims.path(rec).write_text(json.dumps(info))
    import socket

    if socket.gethostname() == info["host"]:
        got = claims.acquire("k", rec)
        assert got is not None and got.took_over["pid"] == pid and "gone" in got.took_over["reason"]
        claims.release(got)
    # a claim from another host whose heartbeat stopped longer ago than the timeout
    claims.path(rec).write_text(json.dumps({"pid": 1, "host": "elsewhere", "token": "t-old"}))
    assert claims.acquire("k", rec) is None  # fresh heartbeat: left alone
    old = time.time() - 120
    os.utime(claims.path(rec), (old, old))
    got = claims.acquire("k", rec)
    assert got is not None and "heartbeat" in got.took_over["reason"] and got.took_over["host"] == "elsewhere"
    claims.close()
    assert not claims.path(rec).exists()
