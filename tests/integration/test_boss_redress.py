"""BOSS on trained models and in sweeps: the straightening fine-tune of the trained 1-RF, and the
calibration columns of sweep rows."""


import pytest
import torch

import rfbench
from rfbench.metrics import ref_rmse
from rfbench.models import get_model
from rfbench.samplers import make_grid
from rfbench.training import boss
from rfbench.training.boss import RedressConfig, redress


@pytest.mark.slow
def test_redress_lowers_the_n_step_euler_error_on_the_trained_rf():
    """Stage 2 on the 2-D 1-RF: after the fine-tune, N = 2 Euler steps on the Bellman grid land
    closer to the base model's own ODE solution (its dopri5 endpoint, the teacher's answer) than
    the base model's N = 2 Euler steps on the same grid; and the fine-tuned model is cached."""
    base = get_model("1-rf", data="8gaussians", progress=False)
    cfg = RedressConfig(nfe=2, n_traj=2000, steps=800)
    tuned = redress(base, cfg, progress=False)
    noise = base.sample_prior(400, seed=0)
    ref = rfbench.reference_solution(base, noise, rtol=1e-7, atol=1e-7).x_end
    before = rfbench.sample(base, "euler", 2, noise=noise, grid="bellman").x
    after = rfbench.sample(tuned, "boss", 2, noise=noise)
    assert torch.equal(after.ts, make_grid("bellman", 2, base))
    assert after.info["grid_source"] == "stage 1 on 1-rf" and after.info["redress_s"] > 0
    e_before, e_after = ref_rmse(before, ref), ref_rmse(after.x, ref)
    assert e_after < 0.7 * e_before, (e_before, e_after)
    assert tuned.meta["heldout_loss_after"] < tuned.meta["heldout_loss_before"]
    again = redress(base, cfg, progress=False)
    assert again.meta["cache_hit"] and again.boss_info["redress_cached"]


def test_sweep_rows_carry_calibration_apart_from_timed_sampling(tmp_path, monkeypatch):
    """In a sweep, the calibration runs once (first cell), never inside the timed repeats, and the
    rows carry calib_s / calib_cached next to wall_clock_s; FlowTurbo rows carry nfe_refiner."""
    from rfbench.runner.suite import ModelSpec, Suite
    from rfbench.runner.sweep import sweep
    from rfbench.training.flowturbo import RefinerConfig

    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path / "cache"))
    calls = []
    real = boss.euler_reference
    monkeypatch.setattr(boss, "euler_reference", lambda *a, **k: calls.append(1) or real(*a, **k))
    tiny = RefinerConfig(hidden=16, depth=2, n_traj=64, pool_steps=8, n_pairs=2048, steps=30, batch=64)
    suite = Suite("t", "test", [ModelSpec("analytic-gmm-rf")], ["boss", "flowturbo"], [2, 4], n_samples=64,
                  n_data=64, metrics=("ref_rmse", "wall_clock_s"),
                  sampler_options={"flowturbo": {"refiner_config": tiny}})
    rows, summary = sweep(suite, tmp_path / "out", progress=False)
    assert summary["failed"] == 0 and len(calls) == 1
    by = {(r["sampler"], r["nfe"]): r for r in rows}
    for nfe in (2, 4):
        assert by["boss", nfe]["calib_s"] > 0 and by["boss", nfe]["wall_clock_s"] > 0
        assert by["boss", nfe]["nfe_measured"] == nfe
        ft = by["flowturbo", nfe]
        assert ft["nfe_measured"] == ft["nfe_main"] == nfe and ft["nfe_refiner"] == 2 * ft["n_r"] > 0
        assert ft["calib_s"] > 0
