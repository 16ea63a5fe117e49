"""rfbench launch (issue 13): --dry-run's sbatch parameters; a 2-task local array end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rfbench.cli import main

SWEEP = ["toy2d", "--quick", "--models", "analytic-gmm-rf", "--samplers", "euler,heun", "--nfe", "1,2",
         "--n-samples", "100", "--no-progress"]


def test_dry_run_prints_sbatch_parameters(tmp_path, capsys):
    code = main(["launch", "slurm", "--jobs", "8", "--gpus-per-job", "2", "--partition", "gpu", "--time", "1-02:30:00",
                 "--array-parallelism", "4", "--mem", "64G", "--dry-run", *SWEEP, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --ntasks-per-node=2",
                 "#SBATCH --time=1590", "#SBATCH --array=0-7%4", "#SBATCH --mem=64G", "#SBATCH --signal=USR2@120"):
        assert line in out, out
    assert f"--out {tmp_path.resolve()}" in out and "--no-wait" in out and "--device cuda" in out
    assert not (tmp_path / "launch").exists()  # nothing submitted


@pytest.mark.parametrize("argv, match", [
    (["--jobs", "0", *SWEEP], "--jobs"),
    ([*SWEEP, "--shard", "0/2"], "--shard is not allowed"),
    (["no-such-suite"], "no-such-suite"),
])
def test_launch_bad_input(argv, match, capsys):
    assert main(["launch", "local", "--dry-run", *argv]) == 2
    assert match in capsys.readouterr().err


def test_launch_without_suite_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["launch", "slurm", "--jobs", "2"])
    assert exc.value.code == 2 and "suite" in capsys.readouterr().err


def test_time_forms():
    from rfbench.launch import _minutes

    assert [_minutes(t) for t in ("90", "30:00", "2:00:00", "1-0", "1-01:30", "0:0:30")] == [90, 30, 120, 1440, 1530, 1]


def test_local_array_end_to_end(tmp_path, capsys):
    pytest.importorskip("submitit", reason="submitit not installed (pip install 'rfbench[cluster]')")
    code = main(["launch", "local", "--jobs", "2", *SWEEP, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 of 2 task(s) finished" in out
    recs = [json.loads(p.read_text()) for p in (tmp_path / "cells").glob("*.json")]
    assert len(recs) == 4 and all(r["row"]["status"] == "ok" for r in recs)
    assert (tmp_path / "results.csv").is_file()  # the last task wrote the table
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "results.csv")) == 4
    logs = list(Path(tmp_path / "launch").glob("*_log.out"))
    assert len(logs) == 2
    # the two tasks computed 4 cells between them, each exactly once
    computed = sum(int(t.split("(")[-1].split(" computed")[0]) for p in logs for t in p.read_text().splitlines()
                   if " computed," in t)
    assert computed == 4
