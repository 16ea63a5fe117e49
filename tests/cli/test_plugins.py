"""A user's own model and sampler, each in a module of their own, through the CLI, a suite file of their
own under pytest, and ``rfbench report`` (issue 14, item 1). The user code imports only documented API
(``rfbench.models.from_velocity``, ``rfbench.define_suite``)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import rfbench
from rfbench.cli import main

ROOT = Path(rfbench.__file__).resolve().parents[1]

# A Gaussian data set N(mu, s^2 I) on the rectified-flow path: the exact velocity in rfbench time
# (x_t = (1 - t) x0 + t n) is E[n - x0 | x_t] = -mu + (t - (1 - t) s^2) / ((1 - t)^2 s^2 + t^2) (x - (1 - t) mu).
MODEL = '''
import torch
import rfbench

MU, S = {mu}, 0.5


def velocity(x, t):
    t = t.view(-1, 1)
    mu = torch.tensor(MU, dtype=x.dtype, device=x.device)
    gain = (t - (1 - t) * S**2) / ((1 - t) ** 2 * S**2 + t**2)
    return -mu + gain * (x - (1 - t) * mu)


def make():
    return rfbench.models.from_velocity(velocity, data_shape=(2,), convention="rfbench", name="gauss")
'''

SAMPLER = '''
def midpoint(model, x, ts):
    """Explicit midpoint rule: two evaluations per step, order 2."""
    for t, s in zip(ts[:-1].tolist(), ts[1:].tolist()):
        h = s - t
        x_mid = x + 0.5 * h * model.velocity(x, t)
        x = x + h * model.velocity(x_mid, t + 0.5 * h)
    return x


midpoint.nfe_per_step = 2
midpoint.order = 2
'''

SUITE_FILE = '''
import pytest
import rfbench

RFBENCH_SUITE = rfbench.define_suite("ux-mine", models=["ux_user_model:make"],
                                     samplers=["ux_user_sampler:midpoint", "euler"], nfe=[2, 4, 8],
                                     n_samples=64, metrics=("ref_rmse", "straightness"), timing_repeats=0)


def test_cell(rfbench_cell):
    row = rfbench_cell.run()
    assert row["status"] == "ok", row["reason"]
'''


def _write_user_code(folder: Path, mu=(1.0, -2.0)) -> None:
    (folder / "ux_user_model.py").write_text(MODEL.format(mu=list(mu)))
    (folder / "ux_user_sampler.py").write_text(SAMPLER)


def _env(cache: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RFBENCH_CACHE=str(cache), MPLBACKEND="Agg", RFBENCH_PROGRESS="0")
    return env


def _run_cli(folder: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    # the user's modules are in the current folder, not on PYTHONPATH
    return subprocess.run([sys.executable, "-m", "rfbench.cli", *args], cwd=folder, env=_env(cache),
                          capture_output=True, text=True, timeout=600)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_own_model_and_sampler_through_cli_suite_file_and_report(tmp_path, monkeypatch):
    user = tmp_path / "user"
    user.mkdir()
    _write_user_code(user)
    cache = tmp_path / "cache"
    args = ["run", "toy2d", "--models", "ux_user_model:make", "--samplers", "ux_user_sampler:midpoint,euler",
            "--nfe", "2,4,8", "--n-samples", "64", "--out", "out"]

    first = _run_cli(user, cache, *args)
    assert first.returncode == 0, first.stderr
    assert "6 computed, 0 reused, 0 failed" in first.stdout
    rows = _rows(user / "out" / "results.csv")
    mid = {int(r["nfe"]): float(r["ref_rmse"]) for r in rows if r["sampler"] == "ux_user_sampler:midpoint"}
    euler = {int(r["nfe"]): float(r["ref_rmse"]) for r in rows if r["sampler"] == "euler"}
    assert {r["model"] for r in rows} == {"ux_user_model:make"}
    assert all(r["nfe_measured"] == r["nfe"] for r in rows)  # the midpoint rule's 2 NFE per step are counted
    assert mid[8] < mid[4] < mid[2] and euler[8] < euler[4] < euler[2]
    assert mid[8] / mid[4] < 0.35 and euler[8] / euler[4] > 0.35  # order 2 vs order 1 (halving h: 1/4 vs 1/2)

    # same content: every cell reused; changed content under the same reference: recomputed
    again = _run_cli(user, cache, *args)
    assert "0 computed, 6 reused" in again.stdout, again.stdout + again.stderr
    _write_user_code(user, mu=(1.5, -2.0))
    changed = _run_cli(user, cache, *args)
    assert "6 computed, 0 reused" in changed.stdout, changed.stdout + changed.stderr

    # a suite file of the user's own, under pytest with rfbench's plugin
    (user / "test_ux_suite.py").write_text(SUITE_FILE)
    env = _env(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(user)])
    res = subprocess.run([sys.executable, "-m", "pytest", "test_ux_suite.py", "-q", "-p", "no:cacheprovider",
                          "--rfbench-out", "suite-out"], cwd=user, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "6 passed" in res.stdout
    suite_rows = _rows(user / "suite-out" / "results.csv")
    assert {r["sampler"] for r in suite_rows} == {"ux_user_sampler:midpoint", "euler"}

    # the report reads names from results.csv and never imports them
    monkeypatch.syspath_prepend(str(user))
    for mod in ("ux_user_model", "ux_user_sampler"):
        sys.modules.pop(mod, None)
    monkeypatch.setenv("RFBENCH_CACHE", str(cache))
    assert main(["report", str(user / "suite-out")]) == 0
    assert "ux_user_model" not in sys.modules and "ux_user_sampler" not in sys.modules
    report = (user / "suite-out" / "report.md").read_text()
    assert "ux_user_sampler:midpoint" in report and "ux_user_model:make" in report


def test_reference_errors_are_one_line(tmp_path, capsys):
    _write_user_code(tmp_path)
    cache = tmp_path / "cache"
    bad = _run_cli(tmp_path, cache, "run", "toy2d", "--models", "ux_no_such_module:make", "--nfe", "2")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "no module named 'ux_no_such_module'" in bad.stderr
    bad = _run_cli(tmp_path, cache, "run", "toy2d", "--models", "ux_user_model:make", "--samplers",
                   "ux_user_sampler:nothere", "--nfe", "2")
    assert bad.returncode == 2 and "has no attribute 'nothere'" in bad.stderr


def test_sample_by_reference_and_nn_module(tmp_path, monkeypatch):
    (tmp_path / "ux_net_model.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn

        class Shrink(nn.Module):
            """Predicts x0 = 0.5 x (a data set concentrated at the origin's scaled copy)."""
            prediction = "x0"
            data_shape = (3,)
            path = "flow"

            def __init__(self):
                super().__init__()
                self.scale = nn.Parameter(torch.tensor(0.5))

            def forward(self, x, t):
                return self.scale * x
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_user_code(tmp_path)
    out = rfbench.sample("ux_net_model:Shrink", "ux_user_sampler:midpoint", nfe=4, n=5, seed=0)
    assert out.x.shape == (5, 3) and out.nfe_measured == 4
    with pytest.raises(rfbench.RFBenchError, match="multiple of 2"):
        rfbench.sample("ux_net_model:Shrink", "ux_user_sampler:midpoint", nfe=3, n=5)
    # a reference is resolved only where a name is looked up (get), never by `in`
    assert "ux_user_model:make" not in rfbench.models.MODELS


def test_entry_points(tmp_path, monkeypatch, capsys):
    _write_user_code(tmp_path)
    dist = tmp_path / "ux_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ux-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[rfbench.models]\nux-gauss = ux_user_model:make\n\n"
                                           "[rfbench.samplers]\nux-midpoint = ux_user_sampler:midpoint\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from rfbench.plugins import entry_point_names
    from rfbench.samplers import SAMPLERS

    assert "ux-gauss" in entry_point_names("rfbench.models")
    assert main(["list", "models"]) == 0  # listed without importing the plugin
    assert "ux-gauss" in capsys.readouterr().out and "ux_user_model" not in sys.modules
    try:
        out = rfbench.sample("ux-gauss", "ux-midpoint", nfe=8, n=16, seed=1)
        assert out.nfe_measured == 8 and torch.isfinite(out.x).all()
        assert "ux-gauss" in rfbench.models.MODELS and "ux-midpoint" in SAMPLERS  # registered once loaded
    finally:  # leave the registries as the other tests expect them
        rfbench.models.MODELS._entries.pop("ux-gauss", None)
        SAMPLERS._entries.pop("ux-midpoint", None)
