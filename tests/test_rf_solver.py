"""RF-Solver: order on the exact oracle, identity with the explicit midpoint method, inversion and
the inversion_rmse cell metric."""

import pandas as pd
import pytest
import torch

import rfbench
from rfbench.errors import InvalidInputError, NotApplicableError
from rfbench.metrics.convergence import measure_convergence
from rfbench.models import get_model
from rfbench import run_suite
from rfbench.samplers import make_grid
from rfbench.samplers.rf_solver import invert


@pytest.mark.parametrize("model_name", ["analytic-gmm-rf", "analytic-gmm-vp"])
def test_rf_solver_is_second_order(model_name):
    res = measure_convergence(get_model(model_name), "rf-solver", [64, 128, 256, 512], n=128)
    assert abs(res.order - 2) < 0.2, (res.order, res.errors)


def test_rf_solver_equals_explicit_midpoint(gmm_rf):
    """The Taylor step with the finite-difference derivative is algebraically x + h v(x + h/2 v, t + h/2)."""
    noise = gmm_rf.sample_prior(256, seed=0, dtype=torch.float64)
    out = rfbench.sample(gmm_rf, "rf-solver", 12, noise=noise)
    x = noise
    ts = make_grid("uniform", 6, gmm_rf).tolist()
    for t, t_next in zip(ts[:-1], ts[1:]):
        h = t_next - t
        x = x + h * gmm_rf.velocity(x + h / 2 * gmm_rf.velocity(x, t), t + h / 2)
    torch.testing.assert_close(out.x, x, rtol=0, atol=1e-14)


def test_odd_nfe_ends_with_an_euler_step(gmm_rf):
    noise = gmm_rf.sample_prior(16, seed=1, dtype=torch.float64)
    seen = []
    out = rfbench.sample(gmm_rf, "rf-solver", 5, noise=noise, callback=seen.append)
    assert out.nfe_measured == 5 and len(seen) == 3
    x_prev, t_prev = seen[1]["x"], seen[1]["t_next"]
    torch.testing.assert_close(out.x, x_prev + (0.0 - t_prev) * gmm_rf.velocity(x_prev, t_prev), rtol=0, atol=1e-15)


@pytest.mark.parametrize("sampler", ["rf-solver", "euler", "heun"])
def test_inversion_round_trip_converges(sampler, gmm_rf):
    """Invert (data -> noise, ascending grid) then regenerate: the errors shrink with NFE at least
    at the sampler's order, and the inversion counts exactly its NFE."""
    noise = gmm_rf.sample_prior(256, seed=2, dtype=torch.float64)
    errs = []
    for nfe in (16, 32, 64):
        x = rfbench.sample(gmm_rf, sampler, nfe, noise=noise).x
        back = invert(gmm_rf, x, nfe, sampler=sampler)
        assert back.nfe_measured == back.nfe_expected == nfe
        assert float(back.ts[0]) == 0.0 and float(back.ts[-1]) == 1.0
        errs.append(float((back.x - noise).norm(dim=1).mean()))
    order = 1 if sampler == "euler" else 2
    assert errs[1] < errs[0] / 2**order * 1.3 and errs[2] < errs[1] / 2**order * 1.3, errs


def test_inversion_of_exact_data_matches_the_reference_backwards(gmm_rf):
    """Inverting the reference endpoint with many RF-Solver steps recovers the noise (the ODE is reversible)."""
    noise = gmm_rf.sample_prior(64, seed=3, dtype=torch.float64)
    data = rfbench.reference_solution(gmm_rf, noise).x_end
    back = invert(gmm_rf, data, 400)
    assert float((back.x - noise).norm(dim=1).max()) < 1e-4


def test_inversion_errors():
    with pytest.raises(InvalidInputError, match="sampler must be one of"):
        invert(get_model("analytic-gmm-rf"), torch.zeros(2, 2), 4, sampler="dpm-solver++-2m")
    with pytest.raises(NotApplicableError, match="cannot be evaluated at t_min"):
        invert(get_model("analytic-pfgmpp-d128"), torch.zeros(2, 2), 4)


def test_inversion_rmse_cell_metric(tmp_path):
    res = run_suite("toy2d", out=tmp_path, models=["analytic-gmm-rf"],
                    samplers=["rf-solver", "euler", "dpm-solver++-2m"], nfe=[8, 32], n_samples=256, progress=False)
    df = pd.read_csv(tmp_path / "results.csv").set_index(["model", "sampler", "nfe"])
    rf = df.loc["analytic-gmm-rf"]
    for s in ("rf-solver", "euler"):
        assert rf.loc[(s, 32), "inversion_rmse"] < rf.loc[(s, 8), "inversion_rmse"]
        assert rf.loc[(s, 32), "reconstruction_rmse"] < rf.loc[(s, 8), "reconstruction_rmse"]
    assert rf.loc[("rf-solver", 32), "inversion_rmse"] < rf.loc[("euler", 32), "inversion_rmse"] / 10
    assert pd.isna(rf.loc[("dpm-solver++-2m", 8), "inversion_rmse"])
    assert "inversion_rmse: only for" in rf.loc[("dpm-solver++-2m", 8), "notes"]
    assert "inversion_rmse" in (tmp_path / "results.md").read_text()
    assert res["summary"]["failed"] == 0
