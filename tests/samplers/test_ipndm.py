"""iPNDM: Adams-Bashforth orders from exact history (full order on grids uniform in sigma/alpha, order
lost on other grids with the fixed coefficients), global order, DDIM identity, the alpha = 0 end, NFE
plans, and a step-for-step cross-check against diffusers' IPNDMScheduler."""

import math

import pytest
import torch

import rfbench
from multistep_oracles import assert_nfe_matches_plan, exact, gaussian_oracle, lambda_uniform, local_slope
from rfbench.errors import InvalidInputError
from rfbench.metrics.convergence import measure_convergence
from rfbench.models import get_model
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW
from rfbench.samplers import make_grid
from rfbench.samplers.dpm_solver import _coords
from rfbench.samplers.ipndm import AB, ipndm_step


def test_adams_bashforth_coefficients():
    """b_j = int_0^1 prod_{q != j} (u + q)/(q - j) du for equal steps (exact rationals); they sum to 1."""
    for k, b in AB.items():
        assert sum(b) == pytest.approx(1.0, abs=1e-15)
        for j in range(k):
            # integrate the Lagrange basis through u = 0, -1, .., -(k-1) over [0, 1] with Simpson on 1000 panels
            n = 1000
            f = [math.prod((u / n + q) / (q - j) for q in range(k) if q != j) for u in range(n + 1)]
            integral = (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2])) / (3 * n)
            assert b[j] == pytest.approx(integral, abs=1e-12), (k, j)


def _step(model, k):
    def step(times, xs):
        c = _coords(model, times, "noise")
        return ipndm_step(xs[k - 1], c, k - 1, [model.eps(xs[j], c.t[j]) for j in range(k)])
    return step


def _s_uniform(model, k, t_mid=0.5):
    """k history points ending at t_mid and one step beyond, uniform in s = sigma/alpha with step h."""
    s0 = float(torch.exp(-model.schedule.log_snr(torch.tensor(t_mid, dtype=torch.float64))))
    return lambda h: model.schedule.t_of_log_snr(-torch.log(
        torch.tensor([s0 - (j - (k - 1)) * h for j in range(k + 1)], dtype=torch.float64)))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("path", ["flow", "vp"])
def test_local_order_on_grids_uniform_in_s(k, path):
    """AB-k in (s, y) = (sigma/alpha, x/alpha) from exact history: local error O(h^(k+1)) with equal steps in s."""
    model = gaussian_oracle(path)
    slope, errs = local_slope(model, _s_uniform(model, k), _step(model, k))
    assert slope > k + 1 - 0.3, (slope, errs)


@pytest.mark.parametrize("k", [3, 4])
def test_fixed_coefficients_lose_order_on_other_grids(k):
    """On a lambda-uniform grid (steps in s in geometric progression) the fixed coefficients are only
    consistent to local order 3, whatever k: iPNDM-3/4 are second-order methods on such grids."""
    model = gaussian_oracle("flow")
    slope, errs = local_slope(model, lambda_uniform(model, k), _step(model, k), hs=(0.05, 0.025, 0.0125, 0.00625))
    assert 2.7 < slope < 3.4, (slope, errs)


@pytest.mark.parametrize("order,path", [(4, "vp")])
def test_global_order_is_two(order, path):
    """Fitted slope at NFE 48, 96, 192 on the single-Gaussian oracle (logSNR grid, exact endpoint)."""
    model = gaussian_oracle(path)
    noise = model.sample_prior(16, seed=0, dtype=torch.float64)
    res = measure_convergence(model, "ipndm", [48, 96, 192], n=16, grid="logsnr",
                              reference=exact(model, noise, model.t_max, model.t_min), order=order)
    assert abs(res.order - 2) < 0.2, (res.order, res.errors)


@pytest.mark.slow
def test_global_order_on_the_gmm_oracles():
    """The 8-Gaussian oracles at 96..768 NFE: every iPNDM order 2..4 converges at order 2 on the logSNR grid."""
    inner = AnalyticGMM(None, FLOW, t_min=0.02, name="analytic-gmm-rf-inner").double()
    inner.t_max = 0.98
    for model in (inner, get_model("analytic-gmm-vp").double()):
        noise = model.sample_prior(32, seed=0, dtype=torch.float64)
        ref = rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end
        for order in (2, 3, 4):
            res = measure_convergence(model, "ipndm", [96, 192, 384, 768], n=32, reference=ref, grid="logsnr",
                                      order=order)
            assert abs(res.order - 2) < 0.2, (model.name, order, res.order, res.errors)


def test_order1_is_ddim(gmm_vp, gmm_rf):
    for model in (gmm_vp, gmm_rf):
        noise = model.sample_prior(32, seed=1, dtype=torch.float64)
        for grid in ("uniform", "karras"):
            a = rfbench.sample(model, "ipndm", 9, noise=noise, order=1, grid=grid)
            b = rfbench.sample(model, "ddim", 9, noise=noise, grid=grid)
            torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)


def test_alpha_zero_end_and_warm_up(gmm_rf):
    """On the flow path the step from t = 1 (s = inf) is DDIM and its output is not history: the warm-up
    restarts (orders 0, 1, 2, 3, 4, ..); the step into t = 0 (s = 0) is an ordinary AB step."""
    noise = gmm_rf.sample_prior(32, seed=3, dtype=torch.float64)
    seen = []
    rfbench.sample(gmm_rf, "ipndm", 8, noise=noise, callback=seen.append, grid="uniform")
    assert [s["order"] for s in seen] == [0, 1, 2, 3, 4, 4, 4, 4]
    t1 = seen[0]["t_next"]
    torch.testing.assert_close(seen[0]["x"], t1 * noise + (1 - t1) * gmm_rf.x0(noise, 1.0), rtol=0, atol=1e-14)
    assert make_grid("karras", 8, gmm_rf)[0] == 1.0 and rfbench.sample(gmm_rf, "ipndm", 8, n=4).grid == "karras"


@pytest.mark.parametrize("model_name", ["analytic-gmm-rf", "analytic-gmm-vp", "analytic-pfgmpp-dinf"])
def test_nfe_counted_equals_plan(model_name):
    """(test_samplers_core covers more NFEs on analytic-gmm-rf and analytic-pfgmpp-d128.)"""
    assert_nfe_matches_plan(get_model(model_name), "ipndm", (1, 2, 3, 5, 9), ({"order": 1}, {"order": 4}))


def test_bad_options():
    for bad in (5, 0, True, 2.0):
        with pytest.raises(InvalidInputError, match="order must be one of"):
            rfbench.sample("analytic-gmm-vp", "ipndm", 4, n=4, order=bad)


# -- cross-check against diffusers, step for step ----------------------------------------------------------

diffusers = pytest.importorskip("diffusers")


def _v_prediction(model, x, t, alpha, sigma):
    """diffusers' IPNDM takes a diffusion v-prediction alpha eps - sigma x0 (it recovers eps as sigma x + alpha v)."""
    return alpha * model.eps(x, t) - sigma * model.x0(x, t)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("steps", [6, 20])
@pytest.mark.parametrize("float64", [True, False])
def test_matches_diffusers_on_the_same_grid(steps, float64, gmm_vp):
    """The VP oracle (alpha^2 + sigma^2 = 1, as diffusers' IPNDM assumes) on rfbench's uniform grid,
    passed as ``trained_betas`` (diffusers' name for its sigmas): every state agrees to 1e-12 with
    diffusers' betas/alphas in float64, 1e-5 in its own float32."""
    ts = make_grid("uniform", steps, gmm_vp)
    alpha, sigma = gmm_vp.schedule.alpha(ts), gmm_vp.schedule.sigma(ts)
    sched = diffusers.IPNDMScheduler(trained_betas=sigma.tolist())
    sched.set_timesteps(steps)
    if float64:
        sched.betas, sched.alphas = sigma.clone(), alpha.clone()
    noise = gmm_vp.sample_prior(64, seed=5, dtype=torch.float64)
    x, theirs = noise.clone(), []
    for i, timestep in enumerate(sched.timesteps):
        v = _v_prediction(gmm_vp, x, float(ts[i]), float(sched.alphas[i]), float(sched.betas[i]))
        x = sched.step(v, timestep, x).prev_sample
        theirs.append(x)
    ours = []
    rfbench.sample(gmm_vp, "ipndm", steps, noise=noise, grid="explicit", grid_options={"times": ts},
                   callback=lambda s: ours.append(s["x"]))
    rel = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours, theirs))
    assert rel < (1e-12 if float64 else 1e-5), rel


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_diffusers_own_grid_reuses_the_alpha_zero_output(gmm_rf):
    """diffusers' own IPNDM grid starts at alpha = 0 and uses that output as history (step 2 is AB2);
    rfbench restarts the warm-up there (step 2 is AB1). Mapped to the flow by s = sigma/alpha, the first
    steps agree and the second differs (documented rule difference)."""
    sched = diffusers.IPNDMScheduler()
    sched.set_timesteps(10)
    alpha, sigma = sched.alphas.double(), sched.betas.double()
    sched.betas, sched.alphas = sigma, alpha
    ts = sigma / (alpha + sigma)  # flow time with the same s = sigma/alpha; x_flow = x / (alpha + sigma)
    noise = gmm_rf.sample_prior(64, seed=6, dtype=torch.float64)
    x, theirs = noise.clone(), []
    for i, timestep in enumerate(sched.timesteps):
        x_flow = x / (alpha[i] + sigma[i])
        v = _v_prediction(gmm_rf, x_flow, float(ts[i]), float(alpha[i]), float(sigma[i]))
        x = sched.step(v, timestep, x).prev_sample
        theirs.append(x / (alpha[i + 1] + sigma[i + 1]))
    ours = []
    rfbench.sample(gmm_rf, "ipndm", 10, noise=noise, grid="explicit", grid_options={"times": ts},
                   callback=lambda s: ours.append(s["x"]))
    rel = [float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours, theirs)]
    assert rel[0] < 1e-6 and rel[1] > 1e-4, rel
