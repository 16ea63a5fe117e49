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
