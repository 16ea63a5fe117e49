"""UniPC: local and global orders on exact oracles, the corrector's reuse of the next evaluation (NFE =
steps), infinite-lambda ends, options, and a step-for-step cross-check against diffusers'
UniPCMultistepScheduler (an implementation nobody here wrote)."""

import math

import pytest
import torch

import rfbench
from multistep_oracles import assert_nfe_matches_plan, exact, gaussian_oracle, lambda_uniform, local_slope
from rfbench.errors import InvalidInputError, NotApplicableError
from rfbench.metrics.convergence import measure_convergence
from rfbench.models import from_velocity, get_model
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW
from rfbench.samplers import make_grid
from rfbench.samplers.dpm_solver import _coords
from rfbench.samplers.unipc import uni_step, unipc_orders

UNIPC = ["unipc-1", "unipc-2", "unipc-3"]
FORM_KIND = {"data": "x0", "noise": "eps"}


# -- local truncation error: one step from exact history ----------------------------------------------------

def _local(p: int, corrected: bool, variant: str = "bh2", form: str = "data", path: str = "flow"):
    """One UniP-p (+ UniC-p) step from the exact states at p lambda-uniform points (the Gaussian oracle)."""
    model = gaussian_oracle(path)
    kind = FORM_KIND[form]

    def step(times, xs):
        c = _coords(model, times, form)
        hist = [model.predict(xs[j], c.t[j], kind) for j in range(p)]
        x_t = uni_step(xs[p - 1], c, p - 1, p, hist, variant)
        if corrected:
            x_t = uni_step(xs[p - 1], c, p - 1, p, hist, variant, m_t=model.predict(x_t, c.t[p], kind))
        return x_t

    return local_slope(model, lambda_uniform(model, p), step)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_local_order_of_predictor_and_corrector(p):
    """UniP-p has local error O(h^(p+1)) and UniC-p O(h^(p+2)): the corrector adds one order (the
    paper's claim). Slopes over h = 0.05 .. 0.0125 in lambda (the smooth oracle may do better)."""
    pred, errs_p = _local(p, False)
    corr, errs_c = _local(p, True)
    assert pred > p + 1 - 0.25, (pred, errs_p)
    assert corr > p + 2 - 0.25, (corr, errs_c)
    assert errs_c[-1] < errs_p[-1] / 10


@pytest.mark.parametrize("variant,form,path", [("bh1", "data", "flow"), ("bh2", "noise", "flow"),
                                               ("bh1", "noise", "vp"), ("bh2", "data", "vp")])
def test_local_order_of_the_corrector_in_every_variant(variant, form, path):
    slope, errs = _local(2, True, variant, form, path)
    assert slope > 3.75, (slope, errs)


# -- global orders (logSNR grid, lambda finite at both ends) -----------------------------------------------

@pytest.mark.parametrize("sampler,order,options,path", [
    ("unipc-2", 3, {"lower_order_final": False}, "vp"),
    ("unipc-2", 2, {"corrector": False, "lower_order_final": False}, "flow"),  # UniP-2 alone
])
def test_global_order(sampler, order, options, path):
    """Fitted slope of the error against NFE (48, 96, 192) on the single-Gaussian oracle (exact endpoint)."""
    model = gaussian_oracle(path)
    noise = model.sample_prior(16, seed=0, dtype=torch.float64)
    res = measure_convergence(model, sampler, [48, 96, 192], n=16, grid="logsnr",
                              reference=exact(model, noise, model.t_max, model.t_min), **options)
    assert abs(res.order - order) < 0.2, (res.order, res.errors)


def test_lower_order_final_makes_unipc_second_order():
    """As published (official code and diffusers, at every step count) the last step is a first-order
    step with no corrector, so UniPC-3 converges at order 2; without it the same solver shows order
    3.5+ (its corrected first-order warm-up step caps it at 3 in the limit)."""
    model = gaussian_oracle("flow")
    noise = model.sample_prior(16, seed=0, dtype=torch.float64)
    ref = exact(model, noise, model.t_max, model.t_min)
    published = measure_convergence(model, "unipc-3", [48, 96, 192], n=16, reference=ref, grid="logsnr")
    full = measure_convergence(model, "unipc-3", [48, 96, 192], n=16, reference=ref, grid="logsnr",
                               lower_order_final=False)
    assert 1.8 < published.order < 2.4, (published.order, published.errors)
    assert full.order > 3.4, (full.order, full.errors)
    assert full.errors[-1] < published.errors[-1] / 20


def flow_gmm_inner(t_min=0.02, t_max=0.98):
    """The 8-Gaussian flow on [t_min, t_max], where lambda is finite at both ends."""
    model = AnalyticGMM(None, FLOW, t_min=t_min, name="analytic-gmm-rf-inner").double()
    model.t_max = t_max
    return model


@pytest.mark.slow
@pytest.mark.parametrize("oracle", ["flow-inner", "vp"])
def test_orders_on_the_gmm_oracles(oracle):
    """The 8-Gaussian oracles at 96..768 NFE (float64 reference solve): UniPC-p with lower_order_final=False
    has order p + 1 for p = 1, 2 (3.6+ for p = 3, pre-asymptotic), both B(h) and both forms; as
    published (lower-order final steps) it is second order."""
    model = flow_gmm_inner() if oracle == "flow-inner" else get_model("analytic-gmm-vp").double()
    noise = model.sample_prior(32, seed=0, dtype=torch.float64)
    ref = rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end
    nfes = [96, 192, 384, 768]
    for sampler, options, lo, hi in [
        ("unipc-1", {}, 1.8, 2.2),
        ("unipc-2", {"lower_order_final": False}, 2.8, 3.2),
        ("unipc-2", {"lower_order_final": False, "variant": "bh1", "form": "noise"}, 2.8, 3.2),
        ("unipc-3", {"lower_order_final": False, "variant": "bh1", "form": "noise"}, 3.4, 4.2),
        ("unipc-3", {}, 1.8, 2.6),
    ]:
        res = measure_convergence(model, sampler, nfes, n=32, reference=ref, grid="logsnr", **options)
        assert lo < res.order < hi, (sampler, options, res.order, res.errors)


def test_full_flow_interval_converges():
    """On the whole flow path [0, 1] the first and last steps are the lambda-free first-order step."""
    model = gaussian_oracle("flow", t_min=0.0, t_max=1.0)
    noise = model.sample_prior(16, seed=0, dtype=torch.float64)
    res = measure_convergence(model, "unipc-2", [48, 96, 192], n=16, reference=exact(model, noise, 1.0, 0.0))
    assert 1.5 < res.order < 2.5 and res.errors[-1] < 1e-4, (res.order, res.errors)


# -- orders per step, ends, identities --------------------------------------------------------------------

def test_step_orders():
    ok = [True] * 12
    assert unipc_orders(7, 3, ok[:8], True) == [1, 2, 3, 3, 3, 2, 1]
    assert unipc_orders(7, 3, ok[:8], False) == [1, 2, 3, 3, 3, 3, 3]
    assert unipc_orders(30, 2, [True] * 31, True)[-3:] == [2, 2, 1]  # at any step count (official rule)
    flow = [False] + [True] * 9 + [False]
    assert unipc_orders(10, 3, flow, True) == [0, 1, 2, 3, 3, 3, 3, 3, 2, 0]


def test_sampling_uses_the_planned_orders(gmm_vp):
    seen = []
    rfbench.sample(gmm_vp, "unipc-3", 7, n=4, callback=seen.append)
    assert [s["order"] for s in seen] == [1, 2, 3, 3, 3, 2, 1]


def test_unip1_without_corrector_is_ddim(gmm_vp, gmm_rf):
    for model in (gmm_vp, gmm_rf):
        noise = model.sample_prior(32, seed=2, dtype=torch.float64)
        for form in ("data", "noise"):
            a = rfbench.sample(model, "unipc-1", 9, noise=noise, corrector=False, form=form)
            b = rfbench.sample(model, "ddim", 9, noise=noise)
            torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)


def test_corrector_is_unic1_on_the_first_step(gmm_vp):
    """The state after step 1 is the UniC-1 correction of the DDIM step with rho = 1/2, computed from the
    model output at the predicted point (the evaluation step 2 starts from)."""
    noise = gmm_vp.sample_prior(16, seed=3, dtype=torch.float64)
    ts = make_grid("uniform", 6, gmm_vp)
    c = _coords(gmm_vp, ts.tolist(), "data")
    m0 = gmm_vp.x0(noise, c.t[0])
    h = c.l[1] - c.l[0]
    x_pred = (c.sigma[1] / c.sigma[0]) * noise - c.alpha[1] * math.expm1(h) * m0
    m1 = gmm_vp.x0(x_pred, c.t[1])
    x_corr = x_pred - c.alpha[1] * math.expm1(h) * 0.5 * (m1 - m0)  # bh2: B(h) = expm1(h)
    seen = []
    rfbench.sample(gmm_vp, "unipc-2", 6, noise=noise, callback=seen.append)
    torch.testing.assert_close(seen[0]["x"], x_pred, rtol=0, atol=1e-13)
    # the second predictor starts from x_corr: redo it by hand with UniP-2 (rho = 1/2)
    h1 = c.l[2] - c.l[1]
    r = (c.l[0] - c.l[1]) / h1
    x2 = ((c.sigma[2] / c.sigma[1]) * x_corr - c.alpha[2] * math.expm1(h1) * m1
          - c.alpha[2] * math.expm1(h1) * 0.5 * (m0 - m1) / r)
    torch.testing.assert_close(seen[1]["x"], x2, rtol=0, atol=1e-13)


def test_flow_ends_are_first_order_and_uncorrected(gmm_rf):
    """From t = 1 (alpha = 0): x_t1 = sigma_t1 x + alpha_t1 x0_hat; into t = 0 the data form returns
    x0_hat of the last evaluation (as diffusers' final step); no corrector acts after either."""
    noise = gmm_rf.sample_prior(32, seed=4, dtype=torch.float64)
    seen = []
    out = rfbench.sample(gmm_rf, "unipc-2", 8, noise=noise, callback=seen.append)
    t1 = seen[0]["t_next"]
    assert seen[0]["order"] == 0 and seen[-1]["order"] == 0 and seen[-1]["t_next"] == 0.0
    torch.testing.assert_close(seen[0]["x"], t1 * noise + (1 - t1) * gmm_rf.x0(noise, 1.0), rtol=0, atol=1e-14)
    # step 1 starts from the uncorrected first-step result (the step from t = 1 is not corrected)
    seen2 = []
    rfbench.sample(gmm_rf, "unipc-2", 8, noise=noise, corrector=False, callback=seen2.append)
    torch.testing.assert_close(seen2[1]["x"], seen[1]["x"], rtol=0, atol=0)
    torch.testing.assert_close(out.x, gmm_rf.x0(seen[-2]["x"], seen[-1]["t"]), rtol=0, atol=1e-14)


def test_from_velocity_model_gives_the_same_samples(gmm_rf):
    user = from_velocity(lambda x, t: -gmm_rf.velocity(x, 1 - t), data_shape=(2,))
    noise = gmm_rf.sample_prior(64, seed=4, dtype=torch.float64)
    for form in ("data", "noise"):
        a = rfbench.sample(user, "unipc-3", 10, noise=noise, form=form)
        b = rfbench.sample(gmm_rf, "unipc-3", 10, noise=noise, form=form)
        torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)


# -- NFE: counted == planned == requested ----------------------------------------------------------------

@pytest.mark.parametrize("sampler", UNIPC)
def test_nfe_counted_equals_plan(sampler):
    """(test_samplers_core covers more NFEs on analytic-gmm-rf and analytic-pfgmpp-d128.)"""
    for name in ("analytic-gmm-rf", "analytic-gmm-vp", "analytic-pfgmpp-dinf"):
        assert_nfe_matches_plan(get_model(name), sampler, (1, 2, 3, 6),
                                ({}, {"variant": "bh1", "form": "noise", "lower_order_final": False}))


def test_bad_options_and_models():
    with pytest.raises(InvalidInputError, match="variant must be one of"):
        rfbench.sample("analytic-gmm-vp", "unipc-2", 4, n=4, variant="bh3")
    with pytest.raises(InvalidInputError, match="corrector must be one of"):
        rfbench.sample("analytic-gmm-vp", "unipc-2", 4, n=4, corrector=1)
    with pytest.raises(InvalidInputError, match="does not take option"):
        rfbench.sample("analytic-gmm-vp", "unipc-2", 4, n=4, order=3)
    with pytest.raises(NotApplicableError, match="no \\(alpha, sigma\\) schedule"):
        rfbench.sample(from_velocity(lambda x, t: -x, data_shape=(2,), schedule=None), "unipc-2", 4, n=4)


# -- cross-check against diffusers, step for step ---------------------------------------------------------

diffusers = pytest.importorskip("diffusers")


def _ours(model, sampler, ts, noise, **options):
    states = []
    out = rfbench.sample(model, sampler, len(ts) - 1, noise=noise, grid="explicit", grid_options={"times": ts},
                         callback=lambda s: states.append(s["x"]), **options)
    assert out.nfe_measured == len(ts) - 1
    return states


def _max_rel(ours, theirs):
    assert len(ours) == len(theirs)
    return max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours, theirs))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("order,steps,float64", [(2, 5, True), (2, 12, True), (3, 12, True), (3, 25, True),
                                                  (2, 12, False), (3, 25, False)])
def test_matches_diffusers_on_flow_sigmas(order, steps, float64, gmm_rf):
    """diffusers' own flow grid (sigma from 1 - 1e-6 to 0, flow prediction, bh2, data form): every
    predictor state agrees, to 1e-12 when diffusers runs in float64 (its sigmas cast) and 1e-5 in its
    native float32 sigmas. Same rules: warm-up, lower_order_final at every step count, no corrector after
    the last step, and the final step to sigma = 0 returns x0_hat (our lambda-free step)."""
    sched = diffusers.UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
                                              solver_order=order, solver_type="bh2")
    sched.set_timesteps(steps)
    if float64:
        sched.sigmas = sched.sigmas.double()
    noise = gmm_rf.sample_prior(64, seed=5, dtype=torch.float64)
    x, theirs = noise.clone(), []
    for i, timestep in enumerate(sched.timesteps):
        x = sched.step(gmm_rf.velocity(x, float(sched.sigmas[i])), timestep, x).prev_sample
        theirs.append(x)
    ours = _ours(gmm_rf, f"unipc-{order}", sched.sigmas.double(), noise)
    assert _max_rel(ours, theirs) < (1e-12 if float64 else 1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("order,variant,form", [(1, "bh2", "data"), (1, "bh1", "noise")] + [
    (p, variant, form) for p in (2, 3) for variant in ("bh1", "bh2") for form in ("data", "noise")])
def test_matches_diffusers_on_vp(order, variant, form, gmm_vp):
    """The VP oracle on rfbench's logSNR grid, diffusers fed the same grid (its sigmas = sigma/alpha, in
    float64) and the same noise predictions: both B(h) variants, both forms, to 1e-12."""
    steps = 10
    ts = make_grid("logsnr", steps, gmm_vp)
    sched = diffusers.UniPCMultistepScheduler(solver_order=order, solver_type=variant, predict_x0=form == "data")
    sched.set_timesteps(steps)
    sched.sigmas = torch.exp(-gmm_vp.schedule.log_snr(ts))
    noise = gmm_vp.sample_prior(64, seed=6, dtype=torch.float64)
    x, theirs = noise.clone(), []
    for i, timestep in enumerate(sched.timesteps):
        x = sched.step(gmm_vp.eps(x, float(ts[i])), timestep, x).prev_sample
        theirs.append(x)
    ours = _ours(gmm_vp, f"unipc-{order}", ts, noise, variant=variant, form=form)
    assert _max_rel(ours, theirs) < 1e-12
