"""Small API fixes of issue 14 (item 8): names in reference_solution, ``.x`` on results, documented modules as
attributes, output files with the user's umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import torch

import rfbench


def test_reference_solution_takes_a_name_and_names_its_endpoint_x():
    noise = rfbench.models.get_model("analytic-gmm-rf").sample_prior(8, seed=0, dtype=torch.float64)
    by_name = rfbench.reference_solution("analytic-gmm-rf", noise)
    by_model = rfbench.reference_solution(rfbench.models.get_model("analytic-gmm-rf"), noise)
    assert by_name.x is by_name.x_end and by_name.x.shape == (8, 2)
    assert torch.equal(by_name.x, by_model.x)
    out = rfbench.sample("analytic-gmm-rf", "heun", nfe=64, noise=noise)
    assert (out.x - by_name.x).abs().max() < 1e-3  # both results call their samples .x


def test_documented_modules_are_attributes():
    code = ("import rfbench; "
            "[getattr(rfbench, m) for m in ('metrics', 'data', 'suites', 'runner', 'reporting', 'errors', 'plugins', "
            "'progress', 'models', 'samplers')]; "
            "assert callable(rfbench.metrics.w2) and callable(rfbench.reporting.build_report); print('ok')")
    env = dict(os.environ, PYTHONPATH=str(Path(rfbench.__file__).resolve().parents[1]))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_outputs_follow_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "cache"))
    old = os.umask(0o027)
    try:
        rfbench.run_suite("toy2d", models=["analytic-gmm-rf"], samplers=["euler"], nfe=[2], n_samples=64,
                          out=tmp_path / "out", progress=False)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    files += [p for p in (tmp_path / "cache").rglob("*.pt")]
    names = {p.name for p in files}
    assert {"results.csv", "results.md"} <= names and any(p.suffix == ".json" for p in files)
    assert any(p.suffix == ".pt" for p in files)  # the cached reference solution
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert all(m == 0o640 for m in modes.values()), modes
