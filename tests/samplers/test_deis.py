"""DEIS (tAB): coefficients against an independent quadrature, identities with DDIM and DPM-Solver-2M,
local and global orders on exact oracles, NFE plans, infinite-lambda ends, and a step-for-step
cross-check against diffusers' DEISMultistepScheduler (whose polynomial is in log rho, not t)."""

import pytest
import torch
from scipy.integrate import quad

import rfbench
from multistep_oracles import assert_nfe_matches_plan, exact, gaussian_oracle, lambda_uniform, local_slope
from rfbench.errors import InvalidInputError
from rfbench.metrics.convergence import measure_convergence
from rfbench.models import get_model
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW
from rfbench.samplers import make_grid
from rfbench.samplers.deis import deis_coefficients, deis_orders
from rfbench.samplers.dpm_solver import _coords

DEIS = ["deis-1", "deis-2", "deis-3"]
FORM_KIND = {"data": "x0", "noise": "eps"}


# -- coefficients and identities ----------------------------------------------------------------------------

@pytest.mark.parametrize("model_name", ["analytic-gmm-rf", "analytic-gmm-vp"])
@pytest.mark.parametrize("form", ["noise", "data"])
def test_tab_coefficients_match_an_independent_quadrature(model_name, form):
    """C_j = a_t int_{t_s}^{t_t} L_j(tau) d(b/a)/dtau dtau, integrated in t by scipy's adaptive quad,
    equals rfbench's Gauss-Legendre rule in the log-ratio variable to 1e-11 relative."""
    model = get_model(model_name).double()
    ts = make_grid("time-quadratic", 12, model)
    c = _coords(model, ts.tolist(), form)
    sched = model.schedule
    a_of, b_of = (sched.alpha, sched.sigma) if form == "noise" else (sched.sigma, sched.alpha)
    da_of, db_of = (sched.d_alpha, sched.d_sigma) if form == "noise" else (sched.d_sigma, sched.d_alpha)
    for i, k in [(2, 2), (2, 3), (5, 3), (10, 3)]:
        nodes = [c.t[i - j] for j in range(k)]
        for j, coef in enumerate(deis_coefficients(model, c, i, k, form, "t")):
            def f(tau, j=j):
                tt = torch.tensor(tau, dtype=torch.float64)
                a, b, da, db = (float(g(tt)) for g in (a_of, b_of, da_of, db_of))
                basis = 1.0
                for q in range(k):
                    if q != j:
                        basis *= (tau - nodes[q]) / (nodes[j] - nodes[q])
                return basis * (db * a - b * da) / a**2

            value = c.a[i + 1] * quad(f, c.t[i], c.t[i + 1], epsabs=0, epsrel=1e-13, limit=200)[0]
            assert coef == pytest.approx(value, rel=1e-11, abs=1e-14), (i, k, j, coef, value)


def test_deis1_is_ddim(gmm_vp, gmm_rf):
    for model in (gmm_vp, gmm_rf):
        noise = model.sample_prior(32, seed=1, dtype=torch.float64)
        for form in ("noise", "data"):
            a = rfbench.sample(model, "deis-1", 9, noise=noise, form=form, grid="uniform")
            b = rfbench.sample(model, "ddim", 9, noise=noise, grid="uniform")
            torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("form,dpm", [("noise", "dpm-solver-2m"), ("data", "dpm-solver++-2m")])
def test_logrho_deis2_is_dpm_solver_2m_taylor(form, dpm, gmm_vp):
    """Linear interpolation in lambda integrated exactly is DPM-Solver-2M's 'taylor' update: an
    identity between two independently written formulas (quadrature vs phi functions)."""
    noise = gmm_vp.sample_prior(32, seed=2, dtype=torch.float64)
    a = rfbench.sample(gmm_vp, "deis-2", 12, noise=noise, form=form, variable="logrho", grid="logsnr")
    b = rfbench.sample(gmm_vp, dpm, 12, noise=noise, solver_type="taylor", lower_order_final=False, grid="logsnr")
    torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)


# -- orders ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k,form,variable,path", [(1, "noise", "t", "flow"), (2, "noise", "t", "flow"),
                                                  (3, "noise", "t", "flow"), (3, "data", "t", "vp"),
                                                  (3, "noise", "logrho", "vp")])
def test_local_order(k, form, variable, path):
    """One tAB-k step from exact history has local error O(h^(k+1)) (slope over h = 0.05 .. 0.0125 in lambda)."""
    model = gaussian_oracle(path)

    def step(times, xs):
        c = _coords(model, times, form)
        m = [model.predict(xs[j], c.t[j], FORM_KIND[form]) for j in range(k)]
        x = (c.a[k] / c.a[k - 1]) * xs[k - 1]
        for C_j, m_j in zip(deis_coefficients(model, c, k - 1, k, form, variable), reversed(m)):
            x = x + C_j * m_j
        return x

    slope, errs = local_slope(model, lambda_uniform(model, k), step)
    assert slope > k + 1 - 0.25, (slope, errs)


@pytest.mark.parametrize("sampler,order,options,path", [
    ("deis-2", 2, {"form": "data"}, "vp"),
    ("deis-3", 3, {}, "flow"),
])
def test_global_order(sampler, order, options, path):
    """Fitted slope at NFE 48, 96, 192 on the single-Gaussian oracle (exact endpoint), logSNR grid."""
    model = gaussian_oracle(path)
    noise = model.sample_prior(16, seed=0, dtype=torch.float64)
    res = measure_convergence(model, sampler, [48, 96, 192], n=16, grid="logsnr",
                              reference=exact(model, noise, model.t_max, model.t_min), **options)
    assert abs(res.order - order) < 0.2, (res.order, res.errors)


@pytest.mark.slow
@pytest.mark.parametrize("oracle", ["flow-inner", "vp"])
def test_orders_on_the_gmm_oracles(oracle):
    """The 8-Gaussian oracles at 96..768 NFE (float64 reference solve): tAB-k has order k in both forms.
    The first-order warm-up step caps order 3 at 2 only in the limit: its local error is
    ~ h^2 dm/dlambda at the noise end, where the predictions barely change (measured 2.98 at 768..6144
    NFE on the VP oracle)."""
    if oracle == "flow-inner":
        model = AnalyticGMM(None, FLOW, t_min=0.02, name="analytic-gmm-rf-inner").double()
        model.t_max = 0.98
    else:
        model = get_model("analytic-gmm-vp").double()
    noise = model.sample_prior(32, seed=0, dtype=torch.float64)
    ref = rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end
    for sampler, options, order in [("deis-2", {}, 2), ("deis-2", {"form": "data"}, 2),
                                    ("deis-3", {}, 3), ("deis-3", {"form": "data"}, 3),
                                    ("deis-3", {"variable": "logrho"}, 3)]:
        res = measure_convergence(model, sampler, [96, 192, 384, 768], n=32, reference=ref, grid="logsnr", **options)
        assert abs(res.order - order) < 0.2, (sampler, options, res.order, res.errors)


# -- step orders, ends, NFE, options --------------------------------------------------------------------------

def test_step_orders():
    ok = [True] * 30
    assert deis_orders(8, 3, ok[:9], False) == [1, 2, 3, 3, 3, 3, 3, 3]  # official: no lower-order final steps
    assert deis_orders(8, 3, ok[:9], True) == [1, 2, 3, 3, 3, 3, 2, 1]  # diffusers' rule below 15 steps
    assert deis_orders(15, 3, ok[:16], True)[-2:] == [3, 3]
    assert deis_orders(10, 3, [False] + [True] * 9 + [False], False) == [0, 1, 2, 3, 3, 3, 3, 3, 3, 0]


def test_flow_ends_are_first_order(gmm_rf):
    noise = gmm_rf.sample_prior(32, seed=3, dtype=torch.float64)
    seen = []
    out = rfbench.sample(gmm_rf, "deis-3", 8, noise=noise, callback=seen.append)
    t1 = seen[0]["t_next"]
    assert [s["order"] for s in seen] == [0, 1, 2, 3, 3, 3, 3, 0]
    torch.testing.assert_close(seen[0]["x"], t1 * noise + (1 - t1) * gmm_rf.x0(noise, 1.0), rtol=0, atol=1e-14)
    torch.testing.assert_close(out.x, gmm_rf.x0(seen[-2]["x"], seen[-1]["t"]), rtol=0, atol=1e-14)


@pytest.mark.parametrize("sampler", DEIS)
def test_nfe_counted_equals_plan(sampler):
    """(test_samplers_core covers more NFEs on analytic-gmm-rf and analytic-pfgmpp-d128.)"""
    for name in ("analytic-gmm-rf", "analytic-gmm-vp", "analytic-pfgmpp-dinf"):
        assert_nfe_matches_plan(get_model(name), sampler, (1, 2, 3, 6),
                                ({}, {"form": "data", "variable": "logrho", "lower_order_final": True}))


def test_default_grid_and_bad_options(gmm_vp):
    assert rfbench.sample(gmm_vp, "deis-3", 6, n=4).grid == "time-quadratic"  # the official README's ts_order=2
    with pytest.raises(InvalidInputError, match="variable must be one of"):
        rfbench.sample(gmm_vp, "deis-3", 6, n=4, variable="rho")
    with pytest.raises(InvalidInputError, match="does not take option"):
        rfbench.sample(gmm_vp, "deis-3", 6, n=4, solver_type="logrho")


# -- cross-check against diffusers, step for step ----------------------------------------------------------------

diffusers = pytest.importorskip("diffusers")


def _diffusers_states(model, ts, noise, **config):
    """diffusers' DEIS on rfbench's grid ts (its sigmas = sigma/alpha in float64), fed our noise predictions."""
    sched = diffusers.DEISMultistepScheduler(**config)
    sched.set_timesteps(len(ts) - 1)
    sched.sigmas = torch.exp(-model.schedule.log_snr(ts))
    x, states = noise.clone(), []
    for i, timestep in enumerate(sched.timesteps):
        x = sched.step(model.eps(x, float(ts[i])), timestep, x).prev_sample
        states.append(x)
    return states


def _ours(model, sampler, ts, noise, **options):
    states = []
    out = rfbench.sample(model, sampler, len(ts) - 1, noise=noise, grid="explicit", grid_options={"times": ts},
                         callback=lambda s: states.append(s["x"]), **options)
    assert out.nfe_measured == len(ts) - 1
    return states


def _max_rel(ours, theirs):
    return max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours, theirs))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("order,steps,lower_order_final", [(2, 8, True), (2, 20, True), (3, 8, True),
                                                           (3, 8, False), (3, 20, True)])
def test_matches_diffusers_logrho(order, steps, lower_order_final, gmm_vp):
    """The VP oracle on the time-quadratic grid: diffusers' DEIS (noise form, polynomial in log rho,
    lower_order_final below 15 steps) equals deis-k with variable='logrho' and the same final rule, every
    state to 1e-12; the paper's tAB (polynomial in t) differs from it by 1e-3 or more at these steps."""
    ts = make_grid("time-quadratic", steps, gmm_vp)
    noise = gmm_vp.sample_prior(64, seed=5, dtype=torch.float64)
    theirs = _diffusers_states(gmm_vp, ts, noise, solver_order=order, lower_order_final=lower_order_final)
    ours = _ours(gmm_vp, f"deis-{order}", ts, noise, variable="logrho", lower_order_final=lower_order_final)
    assert _max_rel(ours, theirs) < 1e-12
    tab = _ours(gmm_vp, f"deis-{order}", ts, noise, lower_order_final=lower_order_final)
    assert _max_rel(tab, theirs) > 1e-3
