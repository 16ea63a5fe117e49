"""The asv CI step: a deliberately degraded sampler fails the comparison, an unchanged commit passes.

The quality values come from the real benchmark module (benchmarks/quality.py, restricted to one oracle
and two samplers to stay quick); the degraded sampler is Euler shrinking its output by 2 %, installed through
the sampler registry by a fixture. Values go through asv's own result files and scripts/asv_ci.py.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
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


def as_benchmarks(values: dict) -> dict:
    """_measure()'s {(model, sampler): {key: value}} as asv_ci names them."""
    return {f"{TRACKED[k]}('{m}', '{s}')": v for (m, s), row in values.items() for k, v in row.items()}


def thresholds() -> dict:
    from asv.util import load_json

    return load_json(str(ROOT / "asv.conf.json"), js_comments=True)["regressions_thresholds"]


def write_asv_results(results_dir: Path, commit: str, date: int, values: dict) -> None:
    """Save ``values`` ({(model, sampler): {key: value}}) as one asv result file, as asv run would."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    res = Results({"machine": "ci", "python": "3.11"}, {}, commit, date, "3.11", "existing-py", {})
    models, samplers = [repr(m) for m in MODELS], [repr(s) for s in SAMPLERS]
    for key, name in TRACKED.items():
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


def test_timing_is_reported_and_fails_only_beyond_2x(asv_ci):
    base = {"speed.Sampling.time_sample('1-rf', 'euler')": 1.0, "speed.Sampling.time_sample('1-rf', 'heun')": 1.0,
            "speed.Sampling.peakmem_sample('1-rf', 'euler')": 1e8, "quality.RefRMSE.track_ref_rmse('m', 'x')": 0.1}
    head = {"speed.Sampling.time_sample('1-rf', 'euler')": 1.8, "speed.Sampling.time_sample('1-rf', 'heun')": 2.5,
            "speed.Sampling.peakmem_sample('1-rf', 'euler')": 0.9e8, "quality.RefRMSE.track_ref_rmse('m', 'x')": None}
    rows = {r.name.split(".")[-1]: r for r in asv_ci.compare_values(base, head, thresholds())}
    assert rows["time_sample('1-rf', 'euler')"].verdict == "slower x1.80" and not rows["time_sample('1-rf', 'euler')"].failed
    assert rows["time_sample('1-rf', 'heun')"].failed
    assert rows["peakmem_sample('1-rf', 'euler')"].verdict == "same"
    assert rows["track_ref_rmse('m', 'x')"].verdict == "broken" and rows["track_ref_rmse('m', 'x')"].failed
