"""Training objectives against closed forms: the U-shaped timestep law, rfpp's pseudo-Huber, the PFGM++
kernel's radius law, EDM preconditioning in flow time, and the sign of one-step distillation."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import rfbench
from rfbench.models.families import EDMFlow, NetworkFlow
from rfbench.training import objectives as obj


def test_u_shaped_t_follows_the_cosh_density():
    a = 4.0
    t = obj.u_shaped_t(200_000, torch.Generator().manual_seed(0), a=a).double().numpy()
    # CDF of p(t) = a cosh(a (t - 1/2)) / (2 sinh(a/2)):  (sinh(a (t - 1/2)) + sinh(a/2)) / (2 sinh(a/2))
    cdf = lambda x: (np.sinh(a * (x - 0.5)) + np.sinh(a / 2)) / (2 * np.sinh(a / 2))  # noqa: E731
    assert stats.kstest(t, cdf).pvalue > 1e-3
    assert 1e-5 <= t.min() and t.max() <= 1 - 1e-5
    # U-shaped, for a = 4: p(0) = (a/2) coth(a/2) = 2 coth 2 = 2.075, p(1/2) = (a/2) / sinh(a/2) = 2 / sinh 2 = 0.551
    assert float(obj.u_shaped_density(0.0, a)) == pytest.approx(2.075, abs=1e-3)
    assert float(obj.u_shaped_density(0.5, a)) == pytest.approx(0.551, abs=1e-3)
    hist, _ = np.histogram(t, bins=10, range=(0, 1), density=True)
    assert hist[0] > 2.5 * hist[5] and hist[-1] > 2.5 * hist[4]


def test_rfpp_pseudo_huber_matches_its_formula_and_limits():
    d = 64
    c = 0.00054 * d
    diff = torch.zeros(3, 1, 8, 8, dtype=torch.float64)
    diff[1, 0, 0, 0] = 1e-4  # tiny: quadratic regime |x|^2 / (2 c d)
    diff[2] = 5.0  # large: linear regime |x| / d
    loss = obj.rfpp_huber(diff, torch.zeros_like(diff))
    assert loss[0] == 0
    assert float(loss[1]) == pytest.approx(1e-8 / (2 * c * d), rel=1e-3)
    norm = 5.0 * math.sqrt(d)
    assert float(loss[2]) == pytest.approx((math.sqrt(norm**2 + c**2) - c) / d, rel=1e-6)


@pytest.mark.parametrize("N,D", [(64, 8.0), (64, 2048.0), (2, 8.0), (2, 2048.0)])
def test_pfgmpp_training_perturbation_has_the_beta_radius_law(N, D):
    sigma, n = 0.7, 20_000
    shape = (1, 8, 8) if N == 64 else (2,)
    gen = torch.Generator().manual_seed(0)
    noise = obj.pfgmpp_noise(torch.full((n,), sigma), shape, D, gen, clip=1e-3).double().flatten(1)
    r = sigma * math.sqrt(D)
    R2 = noise.pow(2).sum(1)
    b = (R2 / (R2 + r**2)).numpy()  # R = r sqrt(B / (1 - B))  <=>  B = R^2 / (R^2 + r^2) ~ Beta(N/2, D/2)
    assert stats.kstest(b, stats.beta(N / 2, D / 2).cdf).pvalue > 1e-3
    # one radius per sample, direction uniform on the sphere: the mean direction vanishes
    u = noise / noise.norm(dim=1, keepdim=True)
    assert u.mean(0).abs().max() < 5 / math.sqrt(n)
    # (PFGM++'s training code also clips B from below at 1e-3; for N = 2, D = 2048 that moves 64 % of
    # the draws and this test would fail: rfbench caps B only from above.)
    # per-coordinate variance sigma^2 D / (D - 2), not sigma^2 (the kernel's variance excess)
    assert float(noise.pow(2).mean()) == pytest.approx(sigma**2 * D / (D - 2), rel=0.03)


def test_pfgmpp_d_inf_is_gaussian():
    noise = obj.pfgmpp_noise(torch.full((50_000,), 2.0), (2,), math.inf, torch.Generator().manual_seed(1))
    assert noise.std().item() == pytest.approx(2.0, rel=0.01)
    assert stats.kstest(noise[:, 0].double().numpy() / 2.0, "norm").pvalue > 1e-3


class _Zero(torch.nn.Module):
    def forward(self, x, c):
        return torch.zeros_like(x)


def test_edm_flow_applies_preconditioning_in_flow_time():
    # With F = 0 the denoiser is c_skip x_sigma = sd^2 / (sigma^2 + sd^2) * x_t / (1 - t).
    sd = 0.5
    model = EDMFlow(_Zero(), D=math.inf, sigma_data=sd, data_shape=(2,), name="zero")
    x = torch.randn(5, 2, dtype=torch.float64)
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64)
    sigma = t / (1 - t)
    expect = (sd**2 / (sigma**2 + sd**2))[:, None] * x / (1 - t)[:, None]
    assert torch.allclose(model.x0(x, t), expect, rtol=1e-12)
    assert model.t_max == pytest.approx(80 / 81) and not model.eval_at_t_min
    assert model.t_ref_end == pytest.approx(0.002 / 1.002)


def test_edm_loss_vanishes_for_the_exact_gaussian_denoiser():
    # data N(0, sd^2 I), D = inf: the exact denoiser sd^2/(sd^2+sigma^2) x is c_skip x, i.e. F = 0; its
    # weighted loss is the posterior variance times lambda = 1 per element in expectation.
    sd = 0.5
    gen = torch.Generator().manual_seed(0)
    y = sd * torch.randn(200_000, 1, generator=gen)
    sigma = obj.edm_sigma(200_000, gen)
    noise = obj.pfgmpp_noise(sigma, (1,), math.inf, gen)
    loss = obj.edm_loss(y, sigma, noise, _Zero(), sd)
    assert float(loss) == pytest.approx(1.0, rel=0.02)


def test_distillation_target_makes_one_euler_step_land_on_the_endpoint():
    # pairs z -> x1 = 2 z + 1; a network with zero distillation loss must map z to x1 in one Euler step
    class Net(torch.nn.Module):
        def forward(self, x, t):
            return x - (2 * x + 1)  # v(z, 1) = z - x1

    z = torch.randn(64, 2)
    assert float(obj.distill_loss(2 * z + 1, z, Net())) == 0.0
    model = NetworkFlow(Net(), name="distilled", data_shape=(2,))
    out = rfbench.sample(model, "euler", nfe=1, noise=z)
    assert torch.allclose(out.x, 2 * z + 1, atol=1e-6)


def test_rectified_diffusion_loss_is_measured_in_x0_space():
    # x0_hat - x0 = (sigma / alpha)(eps - eps_hat): with eps_hat = 0 the loss is the pseudo-Huber of
    # (sigma / alpha) eps, i.e. an eps error weighted by the inverse SNR (paper sec. 3.3), not the eps loss.
    from rfbench.models.schedules import VPLinearSchedule

    sched, c = VPLinearSchedule(), 1e-3
    x0, eps = torch.randn(256, 2, dtype=torch.float64), torch.randn(256, 2, dtype=torch.float64)
    t = torch.linspace(0.05, 0.95, 256, dtype=torch.float64)
    zero = lambda x, tt: torch.zeros_like(x)  # noqa: E731
    ratio = (sched.sigma(t) / sched.alpha(t))[:, None]
    expect = (torch.sqrt((ratio * eps) ** 2 + c**2) - c).mean()
    assert float(obj.rectified_diffusion_loss(x0, eps, t, zero, sched, c)) == pytest.approx(float(expect), rel=1e-10)
    assert float(obj.eps_loss(x0, eps, t, zero, sched)) == pytest.approx(float(eps.pow(2).mean()), rel=1e-12)
