"""Progress without a terminal (issue 14, item 2): heartbeat lines with done/total, elapsed and ETA, a line
before each expensive step, and an extrapolated estimate."""

from __future__ import annotations

import re
import time

import rfbench
from rfbench import progress


def test_small_sweep_writes_progress_lines_to_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "cache"))  # cold: the reference solve is announced
    monkeypatch.setenv("RFBENCH_PROGRESS_INTERVAL", "0.05")
    assert not progress.is_tty()  # pytest's captured stderr, as a log file or a pipe
    rfbench.run_suite("toy2d", models=["analytic-gmm-rf"], samplers=["euler", "heun"], nfe=[2, 4], n_samples=64,
                      out=tmp_path / "out", progress=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "rfbench: toy2d: 4 cells to do"
    assert any(line.startswith("rfbench: reference solve for analytic-gmm-rf, seed 0: dopri5") for line in err)
    beats = [line for line in err if re.match(r"rfbench: toy2d \d/4 cells, \d+s elapsed, ETA ", line)]
    assert beats, err
    done = [int(re.match(r"rfbench: toy2d (\d)/4", b).group(1)) for b in beats]
    assert done == sorted(done)  # counts only move forward
    assert re.match(r"rfbench: toy2d: 4/4 cells done in \d+s", err[-1])


def test_no_progress_is_silent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RFBENCH_PROGRESS_INTERVAL", "0.05")
    rfbench.run_suite("toy2d", models=["analytic-gmm-rf"], samplers=["euler"], nfe=[2], n_samples=64,
                      out=tmp_path / "out", progress=False)
    assert "rfbench:" not in capsys.readouterr().err


def test_heartbeat_comes_while_one_item_runs_long(monkeypatch):
    """One slow item (a cell that trains a model) still gets lines: the heartbeat has its own thread."""
    monkeypatch.setenv("RFBENCH_PROGRESS_INTERVAL", "0.05")
    lines = []
    monkeypatch.setattr(progress, "emit", lines.append)
    for _ in progress.bar(range(2), desc="slow", unit="cell"):
        progress.announce("training something: 100 steps")
        time.sleep(0.6)
    beats = [line for line in lines if line.startswith("slow 0/2 cells")]
    assert len(beats) >= 2, lines
    assert any("now: training something" in b for b in beats)
    assert lines[0] == "slow: 2 cells to do" and lines[-1].startswith("slow: 2/2 cells done in")


def test_estimate_line_extrapolates_from_the_first_items(monkeypatch):
    monkeypatch.setattr(progress, "ESTIMATE_AFTER_S", 0.1)
    lines = []
    monkeypatch.setattr(progress, "emit", lines.append)
    for _ in progress.bar(range(40), desc="train x", unit="step", leave=False, estimate=True):
        time.sleep(0.01)
    est = [line for line in lines if "estimate" in line]
    assert len(est) == 1, lines
    m = re.match(r"train x: estimate ~(\d+)s for 40 steps \(from the first (\d+) in \d+s\)", est[0])
    assert m and 0 < int(m.group(2)) < 40


def test_fmt_s():
    assert [progress.fmt_s(s) for s in (4.4, 65, 3725, None)] == ["4s", "1m05s", "1h02m", "?"]
