"""The asv CI step: a deliberately degraded sampler fails the comparison, an unchanged commit passes.

The quality values come from the real benchmark module (benchmarks/quality.py, restricted to one oracle
and two samplers to stay quick); the degraded sampler is Euler shrinking its output by 2 %, installed through
the sampler registry by a fixture. Values go through asv's own result files and scripts/asv_ci.py.
The speed gate's ratios come from benchmarks/speed.py: unchanged beside two busy processes they pass, and
Euler doing its work three times fails. A value the baseline has and head lacks fails, by name.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS, SAMPLERS = ["analytic-gmm-rf"], ["euler", "heun"]
# _measure()'s keys and the asv benchmark each is recorded under
TRACKED = {"ref_rmse": "quality.RefRMSE.track_ref_rmse", "nfe_gap": "quality.NFEGap.track_nfe_gap",
           "order_deficit": "quality.OrderDeficit.track_order_deficit"}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def asv_ci():
    return _load("asv_ci", ROOT / "scripts" / "asv_ci.py")


@pytest.fixture
def quality(monkeypatch):
    sys.path.insert(0, str(ROOT))
    try:
        import benchmarks.quality as q
    finally:
        sys.path.remove(str(ROOT))
    monkeypatch.setattr(q, "QUALITY_MODELS", MODELS)
    monkeypatch.setattr(q, "catalogue", lambda: SAMPLERS)
    monkeypatch.setattr(q, "QUALITY_N", 64)
    return q


@pytest.fixture
def degraded_euler(monkeypatch):
    """Euler whose output is scaled by 0.98: a bug that still samples plausibly."""
    from rfbench.samplers import SAMPLERS as REGISTRY

    good = REGISTRY.get("euler")

    def biased(model, x, ts, **kw):
        return good.fn(model, x, ts, **kw) * 0.98

    monkeypatch.setitem(REGISTRY._entries, "euler", replace(good, fn=biased))


@pytest.fixture
def slow_euler(monkeypatch):
    """Euler doing all of its work three times (same output): a sampler made 3x slower."""
    from rfbench.samplers import SAMPLERS as REGISTRY

    good = REGISTRY.get("euler")

    def thrice(model, x, ts, **kw):
        good.fn(model, x, ts, **kw)
        good.fn(model, x, ts, **kw)
        return good.fn(model, x, ts, **kw)

    monkeypatch.setitem(REGISTRY._entries, "euler", replace(good, fn=thrice))


@pytest.fixture
def speed():
    sys.path.insert(0, str(ROOT))
    try:
        import benchmarks.speed as sp
    finally:
        sys.path.remove(str(ROOT))
    return sp


def as_benchmarks(values: dict) -> dict:
    """_measure()'s {(model, sampler): {key: value}} as asv_ci names them."""
    return {f"{TRACKED[k]}('{m}', '{s}')": v for (m, s), row in values.items() for k, v in row.items()}


def thresholds() -> dict:
    from asv.util import load_json

    return load_json(str(ROOT / "asv.conf.json"), js_comments=True)["regressions_thresholds"]


def write_asv_results(results_dir: Path, commit: str, date: int, values: dict, only: list[str] | None = None) -> None:
    """Save ``values`` ({(model, sampler): {key: value}}) as one asv result file, as asv run would (``only``:
    the keys whose benchmarks were run, as with asv run --bench)."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    res = Results({"machine": "ci", "python": "3.11"}, {}, commit, date, "3.11", "existing-py", {})
    models, samplers = [repr(m) for m in MODELS], [repr(s) for s in SAMPLERS]
    for key, name in TRACKED.items():
        if only is not None and key not in only:
            continue
        flat = [values[(m, s)].get(key) for m, s in itertools.product(MODELS, SAMPLERS)]
        res.add_result({"name": name, "version": "1", "params": [models, samplers]},
                       BenchmarkResult(result=flat, samples=[None] * len(flat), number=[None] * len(flat),
                                       errcode=0, stderr="", profile=None))
    res.save(str(results_dir))


def test_degraded_sampler_fails_and_unchanged_passes(quality, asv_ci, monkeypatch, request):
    base = quality._measure()
    again = quality._measure()
    assert again == base  # deterministic: the premise of gating on track_ values
    unchanged = asv_ci.compare_values(as_benchmarks(base), as_benchmarks(again), thresholds())
    assert len(unchanged) == 6 and not any(r.failed for r in unchanged)  # ref_rmse, nfe_gap, order x 2 samplers
    assert {r.verdict for r in unchanged} == {"same"}

    request.getfixturevalue("degraded_euler")
    worse = quality._measure()
    rows = {r.name: r for r in asv_ci.compare_values(as_benchmarks(base), as_benchmarks(worse), thresholds())}
    failed = sorted(n for n, r in rows.items() if r.failed)
    assert failed == ["quality.OrderDeficit.track_order_deficit('analytic-gmm-rf', 'euler')",
                      "quality.RefRMSE.track_ref_rmse('analytic-gmm-rf', 'euler')"], failed
    assert rows["quality.RefRMSE.track_ref_rmse('analytic-gmm-rf', 'heun')"].verdict == "same"
    assert rows["quality.NFEGap.track_nfe_gap('analytic-gmm-rf', 'euler')"].verdict == "same"

    # the same through asv's result files and the CI script's command line
    results = Path(request.getfixturevalue("tmp_path")) / "results"
    (results / "ci").mkdir(parents=True)
    (results / "ci" / "machine.json").write_text(json.dumps({"machine": "ci", "version": 1}))
    conf = results.parent / "asv.conf.json"
    conf.write_text(json.dumps({"version": 1, "project": "t", "repo": ".", "results_dir": "results",
                                "regressions_thresholds": thresholds()}))
    write_asv_results(results, "a" * 40, 1_000, base)
    write_asv_results(results, "b" * 40, 2_000, again)
    write_asv_results(results, "c" * 40, 3_000, worse)
    assert asv_ci.main(["--config", str(conf), "--no-run", "--commit", "b" * 40, "--baseline", "a" * 8]) == 0
    assert asv_ci.main(["--config", str(conf), "--no-run", "--commit", "c" * 40]) == 1  # baseline: latest other, b


def test_wall_clock_is_reported_ratios_and_memory_fail_beyond_2x(asv_ci):
    t, r, m = "speed.Sampling.time_sample", "speed.SamplingRatio.track_ratio_sample", "speed.Sampling.peakmem_sample"
    base = {f"{t}('1-rf', 'euler')": 1.0, f"{t}('1-rf', 'heun')": 1.0, f"{r}('1-rf', 'euler')": 1.1,
            f"{r}('1-rf', 'heun')": 1.1, f"{r}('1-rf', 'dopri5')": 40.0, f"{m}('1-rf', 'euler')": 1e8,
            f"{m}('1-rf', 'heun')": 1e8}
    head = {f"{t}('1-rf', 'euler')": 1.8, f"{t}('1-rf', 'heun')": 3.0, f"{r}('1-rf', 'euler')": 1.5,
            f"{r}('1-rf', 'heun')": 3.3, f"{r}('1-rf', 'dopri5')": 30.0, f"{m}('1-rf', 'euler')": 0.9e8,
            f"{m}('1-rf', 'heun')": 2.5e8}
    rows = {r.name.split(".", 2)[-1]: (r.verdict, r.failed) for r in asv_ci.compare_values(base, head, thresholds())}
    assert rows == {
        "time_sample('1-rf', 'euler')": ("slower x1.80", False),
        "time_sample('1-rf', 'heun')": ("slower x3.00", False),  # wall clock: the machine's load, never fails
        "track_ratio_sample('1-rf', 'euler')": ("slower x1.36", False),
        "track_ratio_sample('1-rf', 'heun')": ("FAIL-slower x3.00", True),
        "track_ratio_sample('1-rf', 'dopri5')": ("faster x0.75", False),
        "peakmem_sample('1-rf', 'euler')": ("same", False),
        "peakmem_sample('1-rf', 'heun')": ("FAIL-larger x2.50", True)}


def speed_ratios(speed) -> dict:
    """track_ratio_sample of Euler and Heun on the GMM oracle, as asv_ci names them."""
    out = {}
    for sampler in SAMPLERS:
        bench = speed.SamplingRatio()
        bench.setup(MODELS[0], sampler)
        out[f"speed.SamplingRatio.track_ratio_sample('{MODELS[0]}', '{sampler}')"] = \
            bench.track_ratio_sample(MODELS[0], sampler)
    return out


def test_speed_ratio_passes_beside_busy_processes_and_fails_on_3x_slower_sampler(speed, asv_ci, request):
    base = speed_ratios(speed)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        busy = speed_ratios(speed)
    finally:
        for p in hogs:
            p.kill()
            p.wait()
    rows = asv_ci.compare_values(base, busy, thresholds())
    assert len(rows) == 2 and not any(r.failed for r in rows), [(r.name, r.base, r.head) for r in rows]

    request.getfixturevalue("slow_euler")
    rows = {r.name.split("'")[-2]: r for r in asv_ci.compare_values(base, speed_ratios(speed), thresholds())}
    assert rows["euler"].failed and rows["euler"].verdict.startswith("FAIL-slower"), rows["euler"]
    assert not rows["heun"].failed, rows["heun"]


def test_gone_values_fail_and_are_listed(asv_ci, capsys):
    name = "quality.RefRMSE.track_ref_rmse"
    base = {f"{name}('m', 'a')": 0.1, f"{name}('m', 'b')": 0.2, f"{name}('m', 'c')": 0.3, f"{name}('m', 'd')": 0.4,
            f"{name}('m', 'na')": math.nan, "speed.Sampling.time_sample('m', 'a')": 1.0,
            "speed.SamplingRatio.track_ratio_sample('m', 'e')": None}
    head = {f"{name}('m', 'a')": 0.1,  # same
            f"{name}('m', 'b')": None,  # asv: the benchmark failed
            f"{name}('m', 'c')": math.nan,  # asv: skipped (setup raised NotImplementedError, or not selected)
            # ('m', 'd') and time_sample: not recorded (e.g. asv run --bench selected other benchmarks)
            f"{name}('m', 'na')": math.nan,  # not applicable in both: nothing to compare
            "speed.SamplingRatio.track_ratio_sample('m', 'e')": None,  # failed in both: still a failure
            "speed.SamplingRatio.track_ratio_sample('m', 'f')": 1.2}  # added since the baseline
    rows = {r.name: r for r in asv_ci.compare_values(base, head, thresholds())}
    verdicts = {n: (r.verdict, r.failed) for n, r in rows.items()}
    assert verdicts == {
        f"{name}('m', 'a')": ("same", False), f"{name}('m', 'b')": ("gone (failed)", True),
        f"{name}('m', 'c')": ("gone (skipped)", True), f"{name}('m', 'd')": ("gone (not recorded)", True),
        f"{name}('m', 'na')": ("n/a", False), "speed.Sampling.time_sample('m', 'a')": ("gone (not recorded)", True),
        "speed.SamplingRatio.track_ratio_sample('m', 'e')": ("failed", True),
        "speed.SamplingRatio.track_ratio_sample('m', 'f')": ("new", False)}
    asv_ci.print_table(list(rows.values()), "a" * 8, "b" * 8)
    out = capsys.readouterr().out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("gone: 4 values"))
    assert [line.split("  ")[1] for line in lines[at + 1:at + 5]] == [
        f"{name}('m', 'b')", f"{name}('m', 'c')", f"{name}('m', 'd')", "speed.Sampling.time_sample('m', 'a')"], out
    assert "verdict: FAIL (5 failing of 8" in out


def test_subset_run_fails_against_a_full_baseline(quality, asv_ci, tmp_path):
    """The issue's case: asv run --bench NFEGap, then a comparison with a full baseline: the other tracked values
    are gone and the step fails, naming them (unless the comparison itself is restricted with --bench)."""
    values = quality._measure()
    results = tmp_path / "results"
    (results / "ci").mkdir(parents=True)
    (results / "ci" / "machine.json").write_text(json.dumps({"machine": "ci", "version": 1}))
    conf = tmp_path / "asv.conf.json"
    conf.write_text(json.dumps({"version": 1, "project": "t", "repo": ".", "results_dir": "results",
                                "regressions_thresholds": thresholds()}))
    write_asv_results(results, "a" * 40, 1_000, values)
    write_asv_results(results, "b" * 40, 2_000, values, only=["nfe_gap"])
    args = ["--config", str(conf), "--no-run", "--commit", "b" * 40, "--baseline", "a" * 8]
    assert asv_ci.main(args) == 1
    assert asv_ci.main(args + ["--bench", "NFEGap"]) == 0
