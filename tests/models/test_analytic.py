"""The exact oracle models, checked against answers rfbench did not produce: closed-form ODE
solutions, the continuity equation, an independent float64 integrator, and distribution identities."""

import math

import numpy as np
import pytest
import torch

from rfbench.data import get_dataset
from rfbench.data.toy2d import GaussianMixture, eight_gaussians
from rfbench.metrics import w2
from rfbench.models import AnalyticGMM, AnalyticPFGMPP, get_model
from rfbench.models.priors import PFGMPPPrior
from rfbench.models.schedules import FLOW, VPLinearSchedule
from rfbench.samplers import reference_solution


@pytest.mark.parametrize("schedule", [FLOW, VPLinearSchedule()], ids=["rf", "vp"])
def test_single_gaussian_matches_closed_form_solution(schedule):
    """For one Gaussian N(mu, s^2 I), (x_t - alpha mu) / sqrt(alpha^2 s^2 + sigma^2) is constant
    along probability-flow trajectories, so the ODE endpoint is known exactly."""
    mu, s = torch.tensor([[1.5, -0.5]], dtype=torch.float64), 0.3
    model = AnalyticGMM(GaussianMixture([1.0], mu, [s]), schedule).double()
    noise = model.sample_prior(64, seed=0, dtype=torch.float64)
    ref = reference_solution(model, noise)

    def scale(t):
        t = torch.tensor(t, dtype=torch.float64)
        return schedule.alpha(t), torch.sqrt(schedule.alpha(t) ** 2 * s**2 + schedule.sigma(t) ** 2)

    a1, S1 = scale(model.t_max)
    a0, S0 = scale(model.t_min)
    exact = a0 * mu + S0 * (noise - a1 * mu) / S1
    torch.testing.assert_close(ref.x_end, exact, rtol=0, atol=1e-7)


@pytest.mark.parametrize("schedule", [FLOW, VPLinearSchedule()], ids=["rf", "vp"])
def test_mixture_velocity_satisfies_the_continuity_equation(schedule):
    """d p_t/dt + div(p_t v) = 0 with the closed-form mixture density p_t (autograd divergence,
    central differences in t): the velocity transports the marginals it claims to."""
    mix = eight_gaussians()
    model = AnalyticGMM(mix, schedule).double()
    x = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1.5

    def density(x, t):
        t = torch.as_tensor(t, dtype=torch.float64)
        a, s = schedule.alpha(t), schedule.sigma(t)
        var = a**2 * mix.stds**2 + s**2
        d2 = ((x[:, None, :] - a * mix.means[None]) ** 2).sum(-1)
        return (mix.weights * torch.exp(-d2 / (2 * var)) / (2 * math.pi * var)).sum(1)

    for t in (0.2, 0.5, 0.8):
        h = 1e-5
        dp_dt = (density(x, t + h) - density(x, t - h)) / (2 * h)
        xr = x.clone().requires_grad_(True)
        flux = density(xr, t)[:, None] * model.velocity(xr, t)
        div = sum(torch.autograd.grad(flux[:, i].sum(), xr, retain_graph=True)[0][:, i] for i in range(2))
        torch.testing.assert_close(dp_dt + div, torch.zeros_like(dp_dt), rtol=0, atol=1e-6 * dp_dt.abs().max().item() + 1e-9)


def test_reference_agrees_with_independent_scipy_solve(gmm_rf):
    """rfbench's reference (torchdiffeq dopri5, float64) vs scipy's DOP853 at rtol = atol = 1e-12,
    per sample: agreement to 1e-6."""
    from scipy.integrate import solve_ivp

    noise = gmm_rf.sample_prior(20, seed=5, dtype=torch.float64)
    ref = reference_solution(gmm_rf, noise)

    def f(t, y):
        with torch.no_grad():
            return gmm_rf.velocity(torch.from_numpy(y)[None], t)[0].numpy()

    for i in range(len(noise)):
        sol = solve_ivp(f, (1.0, 0.0), noise[i].numpy(), method="DOP853", rtol=1e-12, atol=1e-12)
        assert sol.success
        np.testing.assert_allclose(ref.x_end[i].numpy(), sol.y[:, -1], rtol=0, atol=1e-6)


def test_rf_and_vp_paths_reproduce_the_same_data_marginal(gmm_rf, gmm_vp):
    """Integrated accurately from their priors, the RF-path and VP-path oracles of the same mixture
    both land on the mixture: W2 to fresh data is at the sampling-noise floor."""
    n = 2000
    data = get_dataset("8gaussians")
    fresh, fresh2 = data.sample(n, seed=101), data.sample(n, seed=202)
    floor = w2(fresh, fresh2)
    rf = reference_solution(gmm_rf, gmm_rf.sample_prior(n, seed=7, dtype=torch.float64), rtol=1e-6, atol=1e-6).x_end
    vp = reference_solution(gmm_vp, gmm_vp.sample_prior(n, seed=8, dtype=torch.float64), rtol=1e-6, atol=1e-6).x_end
    prior = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    w_rf, w_vp, w_prior = w2(rf, fresh), w2(vp, fresh), w2(prior, fresh)
    assert w_rf < 1.5 * floor and w_vp < 1.5 * floor, (w_rf, w_vp, floor)
    assert w_prior > 3 * floor
    assert w2(rf, vp) < 1.5 * floor


def test_pfgmpp_prior_radius_law():
    """PFGM++ prior: |x_sigma|^2 / sigma_max^2 has mean N D / (D - 2) (Beta-prime(N/2, D/2) times D),
    heavier-tailed than EDM's Gaussian; D = inf gives sigma_max N(0, I)."""
    N, D, smax, n = 2, 8.0, 80.0, 200_000
    prior = PFGMPPPrior(D, smax)
    x = prior.sample(n, (N,), torch.Generator().manual_seed(0)) * (1 + smax) / smax  # back to sigma units / smax
    r2 = x.pow(2).sum(1)
    assert float(r2.mean()) == pytest.approx(N * D / (D - 2), rel=0.03)
    gauss = PFGMPPPrior(math.inf, smax).sample(n, (N,), torch.Generator().manual_seed(0)) * (1 + smax) / smax
    assert float(gauss.pow(2).sum(1).mean()) == pytest.approx(N, rel=0.02)
    assert float(torch.quantile(r2, 0.999)) > 1.5 * float(torch.quantile(gauss.pow(2).sum(1), 0.999))
    with pytest.raises(ValueError):
        PFGMPPPrior(2.0)


def test_pfgmpp_large_D_approaches_edm():
    """D -> inf recovers EDM: the exact PFGM++ denoiser with D = 1e7 matches the Gaussian-kernel one."""
    pts = eight_gaussians().sample(64, torch.Generator().manual_seed(0))
    big, edm = AnalyticPFGMPP(pts, 1e7).double(), AnalyticPFGMPP(pts, math.inf).double()
    x = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for t in (0.05, 0.3, 0.9):
        torch.testing.assert_close(big.x0(x, t), edm.x0(x, t), rtol=1e-3, atol=1e-4)


def test_pfgmpp_reference_lands_on_the_points():
    """At sigma -> 0 the exact PFGM++ flow of a point set ends on the points."""
    model = get_model("analytic-pfgmpp-d128").double()
    ref = reference_solution(model, model.sample_prior(64, seed=0, dtype=torch.float64), rtol=1e-7, atol=1e-7)
    d = torch.cdist(ref.x_end, model.points).min(1).values
    assert float(d.max()) < 1e-3


# -- PFGM++ on the 8-Gaussian density (Gauss-Laguerre scale mixture) ---------------------------------
def _pfgmpp_gmm_denoiser(model, x_sigma, sigma):
    """E[y | x_sigma] from the model's flow-time velocity (dx_t/dt = (1 + s)(x_s - D)/s - x_s)."""
    t = torch.full((len(x_sigma),), sigma / (1 + sigma), dtype=torch.float64)
    v = model(x_sigma / (1 + sigma), t)
    return x_sigma - sigma * (v + x_sigma) / (1 + sigma)


@pytest.mark.parametrize("sigma", [0.15, 0.6, 3.0])
def test_pfgmpp_gmm_denoiser_matches_brute_force_integration(sigma):
    """E[y | x] = int y p(y) k(x | y) dy / int p(y) k(x | y) dy with the PFGM++ kernel
    k ∝ (|x - y|^2 + sigma^2 D)^(-(N + D)/2) itself (no scale mixture), on a fine grid over y."""
    model = get_model("analytic-pfgmpp-gmm-d128").double()
    mix = eight_gaussians()
    h = 0.004
    ax = torch.arange(-3.2, 3.2 + h / 2, h, dtype=torch.float64)
    Y = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    logp = torch.logsumexp(torch.log(mix.weights)[None] - (Y[:, None] - mix.means[None]).pow(2).sum(-1)
                           / (2 * mix.stds[None] ** 2) - 2 * torch.log(mix.stds[None]), dim=1)
    x = torch.tensor([[2.1, 0.1], [0.3, -1.2], [-1.5, 1.4], [0.0, 0.0]], dtype=torch.float64)
    D = 128.0
    for xi, got in zip(x, _pfgmpp_gmm_denoiser(model, x, sigma)):
        logk = -0.5 * (2 + D) * torch.log((xi - Y).pow(2).sum(1) + sigma**2 * D)
        w = torch.softmax(logp + logk, 0)
        torch.testing.assert_close(got, (w[:, None] * Y).sum(0), rtol=0, atol=1e-7)


def test_pfgmpp_gmm_limits_and_quadrature():
    """D = inf is the rectified-flow GMM oracle on [0, t_max]; v(x, 0) = -x; 16 nodes (the default) and
    64 agree with 256 on points drawn from the model's own marginals (round-off for D = 128), for one
    time per batch (the samplers' case) and for a time per sample."""
    from rfbench.models.analytic import AnalyticPFGMPPGMM

    mix, gen = eight_gaussians(), torch.Generator().manual_seed(3)
    inf, rf = AnalyticPFGMPPGMM(mix, math.inf).double(), AnalyticGMM(mix, FLOW).double()
    x = 2 * torch.randn(64, 2, dtype=torch.float64, generator=gen)
    t = torch.rand(64, dtype=torch.float64, generator=gen) * inf.t_max
    torch.testing.assert_close(inf(x, t), rf(x, t), rtol=0, atol=1e-12)
    m16, m64, m256 = (AnalyticPFGMPPGMM(mix, 128.0, nodes=n).double() for n in (16, 64, 256))
    torch.testing.assert_close(m16(x, torch.zeros(64, dtype=torch.float64)), -x, rtol=0, atol=0)
    for sigma in (0.01, 1.0, 80.0):
        xt = mix.sample(2000, gen) / (1 + sigma) + PFGMPPPrior(128.0, sigma).sample(2000, (2,), gen)
        tt = torch.full((2000,), sigma / (1 + sigma), dtype=torch.float64)
        for m in (m16, m64):
            torch.testing.assert_close(m(xt, tt), m256(xt, tt), rtol=0, atol=1e-11)
    mixed = torch.tensor([0.01, 0.5, 0.9], dtype=torch.float64)
    one_by_one = torch.cat([m16(x[i:i + 1], mixed[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(m16(x[:3], mixed), one_by_one, rtol=0, atol=1e-14)


def test_pfgmpp_gmm_flow_carries_the_prior_to_the_data():
    """The reference flow from the PFGM++ prior ends on the 8-Gaussian density: W2 to data samples is
    at the level of W2 between two data samples."""
    model = get_model("analytic-pfgmpp-gmm-d128").double()
    ref = reference_solution(model, model.sample_prior(500, seed=0, dtype=torch.float64), rtol=1e-8, atol=1e-8)
    data = model.sample_data(500, generator=torch.Generator().manual_seed(1))
    other = model.sample_data(500, generator=torch.Generator().manual_seed(2))
    assert w2(ref.x_end, data) < 2 * w2(other, data)
