"""DPM-Solver / DPM-Solver++: convergence orders on exact oracles, identities, the fast order
allocation, lower-order final steps, NFE plans, endpoint handling and a step-for-step
cross-check against diffusers' DPMSolverMultistepScheduler (an implementation nobody here wrote)."""

import math

import pytest
import torch

import rfbench
from rfbench.errors import InvalidInputError, NotApplicableError
from rfbench.metrics import ref_rmse
from rfbench.metrics.convergence import fit_order, measure_convergence
from rfbench.models import from_velocity, get_model
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW
from rfbench.samplers import SAMPLERS, make_grid
from rfbench.samplers.dpm_solver import fast_orders, fixed_orders, multistep_orders

DPM = [n for n in SAMPLERS if n.startswith("dpm-solver")]


def flow_gmm_inner(t_min=0.02, t_max=0.98):
    """The analytic GMM flow on [t_min, t_max], where lambda is finite at both ends
    (docs/dpm-solver.md#measured-orders)."""
    model = AnalyticGMM(None, FLOW, t_min=t_min, name="analytic-gmm-rf-inner").double()
    model.t_max = t_max
    return model


# -- convergence orders (float64, exact velocity: pure discretisation error) ---------------------------

NFE_MULTI = [96, 192, 384, 768]
NFE_SINGLE = [96, 192, 384, 768]  # multiples of 2 and 3: fixed-order steps only
# NFE mod 3 = 2: DPM-Solver-fast is [3, ..., 3, 2], order 3 (docs/dpm-solver.md#the-fast-order-allocation)
NFE_FAST3 = [95, 191, 383, 767]

ORDERS = [
    ("dpm-solver-1", 1, NFE_SINGLE, {}),
    ("dpm-solver-2", 2, NFE_SINGLE, {}),
    ("dpm-solver-2", 2, NFE_SINGLE, {"solver_type": "taylor"}),
    ("dpm-solver-3", 3, NFE_SINGLE, {}),
    ("dpm-solver-3", 3, NFE_SINGLE, {"solver_type": "taylor"}),
    ("dpm-solver-fast", 3, NFE_FAST3, {}),
    ("dpm-solver-2m", 2, NFE_MULTI, {}),
    ("dpm-solver-3m", 2, NFE_MULTI, {}),  # as published: the phi3 D2 coefficient is half the consistent one
    ("dpm-solver-3m-corrected", 3, NFE_MULTI, {}),
    ("dpm-solver++-1", 1, NFE_SINGLE, {}),
    ("dpm-solver++-2s", 2, NFE_SINGLE, {}),
    ("dpm-solver++-3s", 3, NFE_SINGLE, {}),
    ("dpm-solver++-3s", 3, NFE_SINGLE, {"solver_type": "taylor"}),
    ("dpm-solver++-2m", 2, NFE_MULTI, {}),
    ("dpm-solver++-2m", 2, NFE_MULTI, {"solver_type": "taylor"}),
    ("dpm-solver++-3m", 2, NFE_MULTI, {}),
    ("dpm-solver++-3m-corrected", 3, NFE_MULTI, {}),
]


@pytest.fixture(scope="module")
def inner_flow():
    model = flow_gmm_inner()
    noise = model.sample_prior(64, seed=0, dtype=torch.float64)
    return model, rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end


@pytest.fixture(scope="module")
def vp():
    model = get_model("analytic-gmm-vp").double()
    noise = model.sample_prior(64, seed=0, dtype=torch.float64)
    return model, rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end


@pytest.mark.parametrize("sampler,order,nfes,options", ORDERS, ids=lambda v: str(v) if not isinstance(v, list) else "")
def test_order_on_flow_gmm(sampler, order, nfes, options, inner_flow):
    """Every DPM variant on the rectified-flow GMM (alpha = 1 - t, sigma = t), logSNR grid, lambda
    finite at the ends: slope of log error vs log NFE over the last three points within 0.2."""
    model, ref = inner_flow
    res = measure_convergence(model, sampler, nfes, n=64, reference=ref, grid="logsnr", **options)
    assert abs(res.order - order) < 0.2, (res.order, res.errors)


@pytest.mark.parametrize("sampler,order,nfes,options", ORDERS, ids=lambda v: str(v) if not isinstance(v, list) else "")
def test_order_on_vp_gmm(sampler, order, nfes, options, vp):
    """Noise and data forms on the VP oracle (beta 0.1..20, t in [1e-3, 1]), logSNR grid."""
    model, ref = vp
    res = measure_convergence(model, sampler, nfes, n=64, reference=ref, grid="logsnr", **options)
    assert abs(res.order - order) < 0.2, (res.order, res.errors)


def test_3m_finding_corrected_beats_published_by_an_order(inner_flow):
    """Same grid, same NFE: the corrected 3M error falls ~8x per doubling, the published one ~4x."""
    model, ref = inner_flow
    pub = measure_convergence(model, "dpm-solver++-3m", [192, 384, 768], n=64, reference=ref, grid="logsnr")
    cor = measure_convergence(model, "dpm-solver++-3m-corrected", [192, 384, 768], n=64, reference=ref,
                              grid="logsnr")
    assert cor.order > pub.order + 0.8, (pub.order, cor.order)
    assert cor.errors[-1] < pub.errors[-1] / 4


def test_full_flow_interval_end_steps_cap_the_order():
    """On the whole flow interval [0, 1] the first-order steps at lambda = -inf / +inf make even the
    third-order solvers second order (documented endpoint handling); the errors still converge."""
    model = get_model("analytic-gmm-rf")
    for sampler in ("dpm-solver-3", "dpm-solver++-3m-corrected"):
        res = measure_convergence(model, sampler, [96, 192, 384, 768], n=64)
        assert 1.6 < res.order < 2.3, (sampler, res.order, res.errors)
        assert res.errors[-1] < 1e-4




def test_logsnr_grid_on_the_full_flow_converges_like_log_n_over_n_to_the_order():
    """On [0, 1] the logsnr grid's lambda-uniform part spans lambda(1 - 1/N) .. lambda(1/N) = -+ln(N - 1),
    a range growing like 2 ln N, so its step is ~2 ln N / N and an order-p method's error goes like
    (ln N / N)^p: err N / ln N (DPM-Solver-1) and err N^2 / ln^2 N (DPM-Solver-2) are constant
    within a few percent while err N^p itself grows by a third or more (figures in docs/dpm-solver.md)."""
    model = get_model("analytic-gmm-rf")
    for sampler, p, nfes in (("dpm-solver-1", 1, [96, 192, 384, 768]), ("dpm-solver-2", 2, [192, 384, 768])):
        errors = measure_convergence(model, sampler, nfes, n=64, grid="logsnr").errors
        law = [e * (n / math.log(n)) ** p for n, e in zip(nfes, errors)]
        plain = [e * n**p for n, e in zip(nfes, errors)]
        assert max(law) / min(law) < 1.05, (sampler, law, errors)
        assert plain[-1] > 1.3 * plain[0], (sampler, plain, errors)

# -- explicit grids: the ends walked decide the end treatment, not the model's interval --------------

def _walked_orders(model, sampler, nfe, times):
    seen = []
    out = rfbench.sample(model, sampler, nfe, n=8, grid="explicit", grid_options={"times": times},
                         callback=seen.append)
    assert out.nfe_measured == out.nfe_expected == nfe
    return [s["order"] for s in seen]


def test_explicit_grid_with_finite_lambda_ends_gets_full_order_steps(gmm_rf):
    """On the [0, 1] flow model, times [0.98, 0.02] have finite lambda at both ends: no first-order
    end steps, and corrected 3M takes its DPM-Solver-2 start (one extra NFE: NFE = steps + 1)."""
    inner = torch.linspace(0.98, 0.02, 13, dtype=torch.float64)
    for sampler in ("dpm-solver++-3s", "dpm-solver-3"):
        assert _walked_orders(gmm_rf, sampler, 12, inner) == [3, 3, 3, 3]
    assert _walked_orders(gmm_rf, "dpm-solver-fast", 12, inner) == [3, 3, 3, 2, 1]
    assert _walked_orders(gmm_rf, "dpm-solver++-2s", 12, inner) == [2] * 6
    inner11 = torch.linspace(0.98, 0.02, 12, dtype=torch.float64)
    assert _walked_orders(gmm_rf, "dpm-solver++-3m-corrected", 12, inner11) == [2, 2] + [3] * 9
    with pytest.raises(InvalidInputError, match="needs 12 times, got 13"):
        _walked_orders(gmm_rf, "dpm-solver++-3m-corrected", 12, inner)
    # diffusers' flow grid: 0.999 (1 - i/N), then 0 -- finite start, infinite end
    def diffusers_grid(steps):
        return torch.cat([0.999 * (1 - torch.arange(steps, dtype=torch.float64) / steps), torch.zeros(1).double()])
    assert _walked_orders(gmm_rf, "dpm-solver++-3s", 12, diffusers_grid(12)) == [3, 3, 3, 2, 1]
    assert _walked_orders(gmm_rf, "dpm-solver++-3m-corrected", 12, diffusers_grid(11)) == [2, 2] + [3] * 8 + [0]
    # the whole interval: one first-order (lambda-free) step at each infinite end, no DPM-Solver-2 start
    full = torch.linspace(1.0, 0.0, 13, dtype=torch.float64)
    assert _walked_orders(gmm_rf, "dpm-solver++-3s", 12, full) == [1, 3, 3, 3, 1, 1]
    assert _walked_orders(gmm_rf, "dpm-solver++-3m-corrected", 12, full) == [0, 1, 2] + [3] * 8 + [0]


@pytest.mark.parametrize("sampler,low", [("dpm-solver++-3s", 2.8), ("dpm-solver-3", 2.8),
                                         ("dpm-solver++-3m-corrected", 2.8), ("dpm-solver-3m-corrected", 2.6)])
def test_explicit_grid_with_finite_lambda_ends_converges_at_third_order(sampler, low, gmm_rf, inner_flow):
    """The [0, 1] flow model walked on t-uniform explicit grids over [0.98, 0.02] against the
    reference of the ODE on that interval: third order (before the walked ends decided the end
    treatment, the first and last steps were first order and the slopes 1.9-2.3)."""
    model, ref = inner_flow
    noise = model.sample_prior(64, seed=0, dtype=torch.float64)  # the fixture's noise
    nfes, errors = [192, 384, 768], []
    for nfe in nfes:
        steps = nfe - 1 if "corrected" in sampler else nfe
        times = torch.linspace(0.98, 0.02, steps + 1, dtype=torch.float64)
        out = rfbench.sample(gmm_rf, sampler, nfe, noise=noise, grid="explicit", grid_options={"times": times})
        assert out.nfe_measured == nfe
        errors.append(ref_rmse(out.x, ref))
    order = fit_order(nfes, errors)
    assert low < order < 3.3, (order, errors)

# -- identities ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["dpm-solver++-1", "dpm-solver-1"])
@pytest.mark.parametrize("interval", ["full", "inner"])
def test_first_order_is_euler_in_t_on_a_linear_flow(sampler, interval):
    """x_t = (sigma_t/sigma_s) x - alpha_t expm1(-h) x0_hat equals x + (t - s) v for alpha = 1 - t,
    sigma = t (docs/dpm-solver.md#flow-models); on the full interval the end steps go through the lambda-free form."""
    model = get_model("analytic-gmm-rf").double() if interval == "full" else flow_gmm_inner()
    noise = model.sample_prior(128, seed=1, dtype=torch.float64)
    for grid in ("uniform", "logsnr"):
        a = rfbench.sample(model, sampler, 9, noise=noise, grid=grid)
        b = rfbench.sample(model, "euler", 9, noise=noise, grid="explicit", grid_options={"times": a.ts})
        torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-13)


def test_data_form_step_into_sigma_zero_returns_x0_hat(gmm_rf):
    states = []
    noise = gmm_rf.sample_prior(32, seed=2, dtype=torch.float64)
    out = rfbench.sample(gmm_rf, "dpm-solver++-2m", 6, noise=noise, callback=states.append)
    x_before, t_before = states[-2]["x"], states[-1]["t"]
    assert states[-1]["t_next"] == 0.0 and states[-1]["order"] == 0
    torch.testing.assert_close(out.x, gmm_rf.x0(x_before, t_before), rtol=0, atol=1e-14)


def test_first_step_from_alpha_zero_is_exact_ddim(gmm_rf):
    """From t = 1 (alpha = 0, lambda = -inf): x_t1 = sigma_t1 x + alpha_t1 x0_hat(x, 1), no start shift."""
    states = []
    noise = gmm_rf.sample_prior(32, seed=3, dtype=torch.float64)
    rfbench.sample(gmm_rf, "dpm-solver++-3m", 8, noise=noise, callback=states.append)
    t1 = states[0]["t_next"]
    assert states[0]["t"] == 1.0 and states[0]["order"] == 0
    torch.testing.assert_close(states[0]["x"], t1 * noise + (1 - t1) * gmm_rf.x0(noise, 1.0), rtol=0, atol=1e-14)


def test_from_velocity_model_gives_the_same_samples(gmm_rf):
    """A user's velocity function (RF convention) with the default flow schedule runs DPM-Solver."""
    user = from_velocity(lambda x, t: -gmm_rf.velocity(x, 1 - t), data_shape=(2,))
    noise = gmm_rf.sample_prior(64, seed=4, dtype=torch.float64)
    for sampler in ("dpm-solver++-2m", "dpm-solver-fast", "dpm-solver-3m-corrected"):
        a = rfbench.sample(user, sampler, 10, noise=noise)
        b = rfbench.sample(gmm_rf, sampler, 10, noise=noise)
        torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)


def test_model_without_schedule_is_not_applicable():
    user = from_velocity(lambda x, t: -x, data_shape=(2,), schedule=None)
    for sampler in DPM:
        with pytest.raises(NotApplicableError, match="no \\(alpha, sigma\\) schedule"):
            rfbench.sample(user, sampler, 4, n=4)


# -- fast allocation, grids, lower-order final (docs/dpm-solver.md#time-grids-and-skip-types) ------------

def test_fast_order_allocation_table():
    # docs/dpm-solver.md#the-fast-order-allocation, written out: order 3 by n mod 3, order 2 by parity, order 1
    assert fast_orders(6, 3) == [3, 2, 1]  # n mod 3 = 0: K = 3, [3]*(K-2) + [2, 1]
    assert fast_orders(9, 3) == [3, 3, 2, 1]
    assert fast_orders(10, 3) == [3, 3, 3, 1]  # n mod 3 = 1: [3]*(K-1) + [1]
    assert fast_orders(11, 3) == [3, 3, 3, 2]  # n mod 3 = 2: [3]*(K-1) + [2]
    assert fast_orders(20, 3) == [3] * 6 + [2]
    assert fast_orders(3, 3) == [2, 1] and fast_orders(2, 3) == [2] and fast_orders(1, 3) == [1]
    assert fast_orders(8, 2) == [2, 2, 2, 2] and fast_orders(7, 2) == [2, 2, 2, 1]
    assert fast_orders(4, 1) == [1, 1, 1, 1]
    assert fast_orders(0, 3) == [] == fixed_orders(0, 3)
    for n in range(1, 40):
        for k in (1, 2, 3):
            assert sum(fast_orders(n, k)) == n and sum(fixed_orders(n, k)) == n
    assert fixed_orders(8, 3) == [3, 3, 2] and fixed_orders(9, 3) == [3, 3, 3]


def test_fast_plan_on_vp_and_flow():
    vp_model, rf_model = get_model("analytic-gmm-vp"), get_model("analytic-gmm-rf")
    plan = SAMPLERS.get("dpm-solver-fast").make_plan(10, vp_model, {})
    assert plan.kwargs["orders"] == [3, 3, 3, 1] and plan.expected_nfe == 10
    plan2 = SAMPLERS.get("dpm-solver-fast").make_plan(10, vp_model, {"order": 2})
    assert plan2.kwargs["orders"] == [2] * 5
    # flow path: one first-order step at each infinite-lambda end, the fast table for the rest
    plan = SAMPLERS.get("dpm-solver-fast").make_plan(10, rf_model, {})
    assert plan.kwargs["orders"] == [1, 3, 3, 2, 1] and plan.expected_nfe == 10


def test_logsnr_fast_grid_has_equal_outer_intervals_and_official_r():
    """logSNR skip: K outer intervals uniform in lambda, r1 = 1/2 or r1, r2 = 1/3, 2/3 inside
    (docs/dpm-solver.md#time-grids-and-skip-types)."""
    model = get_model("analytic-gmm-vp")
    orders = fast_orders(11, 3)
    ts = make_grid("logsnr", 11, model, groups=orders)
    lam = model.schedule.log_snr(ts)
    outer = lam[[0, 3, 6, 9, 11]]
    torch.testing.assert_close(outer.diff(), outer.diff()[:1].expand(4), rtol=1e-9, atol=0)
    h = outer.diff()[0]
    torch.testing.assert_close((lam[1:3] - lam[0]) / h, torch.tensor([1 / 3, 2 / 3], dtype=torch.float64))
    torch.testing.assert_close((lam[10] - lam[9]) / h, torch.tensor(0.5, dtype=torch.float64))
    assert float(ts[0]) == 1.0 and float(ts[-1]) == model.t_min


def test_time_uniform_fast_outer_points_are_cumsum_of_the_fine_grid():
    """Other skip types: an NFE-step grid, outer points at the cumulative sums of the orders
    (docs/dpm-solver.md#time-grids-and-skip-types)."""
    model = get_model("analytic-gmm-vp").double()
    noise = model.sample_prior(8, seed=0, dtype=torch.float64)
    seen = []
    out = rfbench.sample(model, "dpm-solver-fast", 9, noise=noise, skip_type="time_uniform", callback=seen.append)
    assert out.grid == "uniform"
    fine = torch.linspace(1.0, model.t_min, 10, dtype=torch.float64)
    assert [s["t"] for s in seen] == pytest.approx(fine[[0, 3, 6, 8]].tolist(), abs=1e-15)
    assert [s["order"] for s in seen] == [3, 3, 2, 1]


def test_logsnr_grid_on_the_flow_keeps_the_ends_and_is_lambda_uniform_inside():
    model = get_model("analytic-gmm-rf")
    ts = make_grid("logsnr", 8, model)
    assert float(ts[0]) == 1.0 and float(ts[-1]) == 0.0
    assert float(ts[1]) == pytest.approx(1 - 1 / 8) and float(ts[-2]) == pytest.approx(1 / 8)
    lam = model.schedule.log_snr(ts[1:-1])
    torch.testing.assert_close(lam.diff(), lam.diff()[:1].expand(6), rtol=1e-9, atol=0)


def test_time_quadratic_grid():
    model = get_model("analytic-gmm-vp")
    ts = make_grid("time-quadratic", 5, model)
    root = ts.sqrt()
    torch.testing.assert_close(root.diff(), root.diff()[:1].expand(5), rtol=1e-12, atol=0)
    assert float(ts[0]) == 1.0 and float(ts[-1]) == model.t_min


def test_skip_type_option_selects_the_grid_and_conflicts_are_errors(gmm_vp):
    out = rfbench.sample(gmm_vp, "dpm-solver++-2m", 6, n=4, skip_type="logSNR")
    assert out.grid == "logsnr"
    torch.testing.assert_close(out.ts, make_grid("logsnr", 6, gmm_vp))
    assert rfbench.sample(gmm_vp, "dpm-solver-2m", 6, n=4, skip_type="time_quadratic").grid == "time-quadratic"
    assert rfbench.sample(gmm_vp, "dpm-solver-2m", 6, n=4).grid == "logsnr"  # noise form default
    assert rfbench.sample(gmm_vp, "dpm-solver++-2m", 6, n=4).grid == "uniform"  # ++ default
    with pytest.raises(InvalidInputError, match="contradicts"):
        rfbench.sample(gmm_vp, "dpm-solver++-2m", 6, n=4, skip_type="logSNR", grid="uniform")
    with pytest.raises(InvalidInputError, match="skip_type must be one of"):
        rfbench.sample(gmm_vp, "dpm-solver++-2m", 6, n=4, skip_type="logsnr")
    with pytest.raises(InvalidInputError, match="solver_type must be one of"):
        rfbench.sample(gmm_vp, "dpm-solver-2", 6, n=4, solver_type="heun")
    with pytest.raises(InvalidInputError, match="does not take option"):
        rfbench.sample(gmm_vp, "dpm-solver++-2m", 6, n=4, order=3)


def test_lower_order_final_rule():
    """Official rule (steps < 10): step i has order min(k, i + 1, steps - i); none from 10 steps on."""
    ok = [True] * 20
    assert multistep_orders(5, 3, ok[:6]) == [1, 2, 3, 2, 1]
    assert multistep_orders(9, 3, ok[:10]) == [1, 2, 3, 3, 3, 3, 3, 2, 1]
    assert multistep_orders(10, 3, ok[:11]) == [1, 2] + [3] * 8
    assert multistep_orders(5, 3, ok[:6], lower_order_final=False) == [1, 2, 3, 3, 3]
    assert multistep_orders(5, 2, ok[:6]) == [1, 2, 2, 2, 1]
    assert multistep_orders(5, 3, ok[:6], first_singlestep=True) == [2, 2, 3, 2, 1]
    # flow path: 0 = lambda-free first-order step at an infinite end; no history point at lambda = -inf
    flow = [False] + [True] * 10 + [False]
    assert multistep_orders(11, 3, flow) == [0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 0]


def test_sampling_uses_the_planned_orders(gmm_vp):
    seen = []
    rfbench.sample(gmm_vp, "dpm-solver++-3m", 7, n=4, callback=seen.append)
    assert [s["order"] for s in seen] == [1, 2, 3, 3, 3, 2, 1]
    seen.clear()
    rfbench.sample(gmm_vp, "dpm-solver++-3m", 7, n=4, lower_order_final=False, callback=seen.append)
    assert [s["order"] for s in seen] == [1, 2, 3, 3, 3, 3, 3]


# -- NFE: counted == planned == requested, every variant -------------------------------------------------

@pytest.mark.parametrize("sampler", DPM + ["rf-solver"])
def test_nfe_counted_equals_plan_and_request(sampler):
    for name in ("analytic-gmm-rf", "analytic-gmm-vp", "analytic-pfgmpp-d128"):
        model = get_model(name)
        for nfe in (1, 2, 3, 4, 5, 6, 7, 10, 11, 17):
            out = rfbench.sample(model, sampler, nfe, n=8)
            assert out.nfe_measured == out.nfe_expected == nfe, (name, nfe, out.nfe_measured, out.nfe_expected)
            assert torch.isfinite(out.x).all()
            assert float(out.ts[0]) == model.t_max and float(out.ts[-1]) == model.t_min


@pytest.mark.parametrize("sampler", ["dpm-solver-3", "dpm-solver++-3s", "dpm-solver-fast"])
def test_singlestep_options_keep_nfe(sampler, gmm_vp):
    for opts in ({"skip_type": "time_uniform"}, {"skip_type": "time_quadratic"}, {"solver_type": "taylor"}):
        for nfe in (5, 9, 12):
            out = rfbench.sample(gmm_vp, sampler, nfe, n=4, **opts)
            assert out.nfe_measured == nfe


# -- cross-check against diffusers (flow sigmas, flow prediction), step for step ----------------------------

diffusers = pytest.importorskip("diffusers")


def _diffusers_run(model, noise, steps, **config):
    """diffusers' own loop on the same model; returns its sigma grid and the state after every step."""
    sched = diffusers.DPMSolverMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
                                                  algorithm_type="dpmsolver++", **config)
    sched.set_timesteps(steps)
    x, states = noise.clone(), []
    for i, timestep in enumerate(sched.timesteps):
        v = model.velocity(x, float(sched.sigmas[i]))  # diffusers' flow: sigma = rfbench t, v = noise - data
        x = sched.step(v, timestep, x).prev_sample
        states.append(x)
    return sched.sigmas.double(), states


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 notice inside diffusers' set_timesteps
@pytest.mark.parametrize("sampler,config,steps", [
    ("dpm-solver++-2m", {"solver_order": 2}, 5),
    ("dpm-solver++-2m", {"solver_order": 2}, 12),
    ("dpm-solver++-2m", {"solver_order": 2}, 25),
    ("dpm-solver++-2m", {"solver_order": 2, "solver_type": "heun"}, 12),
    ("dpm-solver++-3m", {"solver_order": 3}, 8),
    ("dpm-solver++-3m", {"solver_order": 3}, 20),
])
def test_matches_diffusers_step_for_step(sampler, config, steps, gmm_rf):
    """Same model, same sigma grid (diffusers' 0.999 (1 - i/N), then 0), every intermediate state
    within 1e-5 relative. diffusers computes in float32; its final step to sigma = 0 is first order,
    as rfbench's step into lambda = +inf."""
    noise = gmm_rf.sample_prior(256, seed=5, dtype=torch.float64)
    sigmas, theirs = _diffusers_run(gmm_rf, noise, steps, **config)
    ours = []
    options = {"solver_type": "taylor"} if config.get("solver_type") == "heun" else {}
    out = rfbench.sample(gmm_rf, sampler, steps, noise=noise, grid="explicit", grid_options={"times": sigmas},
                         callback=lambda s: ours.append(s["x"]), **options)
    assert out.nfe_measured == len(theirs) == steps
    for i, (a, b) in enumerate(zip(ours, theirs)):
        rel = float((a - b).abs().max() / b.abs().max())
        assert rel < 1e-5, (i, rel)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_diffusers_lower_order_threshold_differs_from_the_official_one(gmm_rf):
    """diffusers lowers the second-to-last 3M step below 15 steps, the official code below 10: at 12
    steps the two loops differ (documented), at 8 and 20 they agree (previous test)."""
    noise = gmm_rf.sample_prior(64, seed=6, dtype=torch.float64)
    sigmas, theirs = _diffusers_run(gmm_rf, noise, 12, solver_order=3)
    ours = []
    rfbench.sample(gmm_rf, "dpm-solver++-3m", 12, noise=noise, grid="explicit", grid_options={"times": sigmas},
                   callback=lambda s: ours.append(s["x"]))
    rel = [float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours, theirs)]
    assert max(rel[:-2]) < 1e-5 and rel[-2] > 1e-4, rel
    assert math.isfinite(rel[-1])
