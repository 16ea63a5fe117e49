"""The time convention, the schedules and the one conversion layer."""

import math

import pytest
import torch

from rfbench.models import conversions, from_velocity, get_model
from rfbench.models.schedules import FLOW, VPLinearSchedule, edm_sigma_to_t, t_to_edm_sigma


@pytest.mark.parametrize("schedule", [FLOW, VPLinearSchedule()], ids=["flow", "vp"])
def test_conversions_round_trip(schedule):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64)
    t = torch.rand(64, generator=g, dtype=torch.float64) * 0.9 + 0.05
    v = torch.randn(64, 3, generator=g, dtype=torch.float64)
    for mid in ("x0", "eps"):
        back = conversions.convert(conversions.convert(v, "velocity", mid, x, t, schedule), mid, "velocity", x, t,
                                   schedule)
        torch.testing.assert_close(back, v, rtol=1e-10, atol=1e-10)
    x0 = conversions.convert(v, "velocity", "x0", x, t, schedule)
    eps = conversions.convert(v, "velocity", "eps", x, t, schedule)
    a, s = schedule.alpha(t)[:, None], schedule.sigma(t)[:, None]
    torch.testing.assert_close(a * x0 + s * eps, x, rtol=1e-10, atol=1e-10)  # the path identity


def test_flow_conversions_match_closed_forms():
    x = torch.tensor([[0.3, -1.2]], dtype=torch.float64)
    v = torch.tensor([[1.5, 0.25]], dtype=torch.float64)
    t = 0.3
    torch.testing.assert_close(conversions.x0_from_velocity(v, x, t, FLOW), x - t * v)
    torch.testing.assert_close(conversions.eps_from_velocity(v, x, t, FLOW), x + (1 - t) * v)


@pytest.mark.parametrize("schedule", [FLOW, VPLinearSchedule()], ids=["flow", "vp"])
def test_log_snr_inverse(schedule):
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    torch.testing.assert_close(schedule.t_of_log_snr(schedule.log_snr(t)), t, rtol=1e-9, atol=1e-9)


def test_vp_derivatives_match_finite_differences():
    sched = VPLinearSchedule()
    t = torch.tensor([0.05, 0.3, 0.8], dtype=torch.float64)
    h = 1e-6
    torch.testing.assert_close(sched.d_alpha(t), (sched.alpha(t + h) - sched.alpha(t - h)) / (2 * h), rtol=1e-6,
                               atol=1e-9)
    torch.testing.assert_close(sched.d_sigma(t), (sched.sigma(t + h) - sched.sigma(t - h)) / (2 * h), rtol=1e-6,
                               atol=1e-9)
    torch.testing.assert_close(sched.alpha(t) ** 2 + sched.sigma(t) ** 2, torch.ones(3, dtype=torch.float64))


def test_edm_crosswalk():
    assert float(edm_sigma_to_t(80.0)) == pytest.approx(80 / 81)
    assert float(t_to_edm_sigma(edm_sigma_to_t(3.7))) == pytest.approx(3.7)
    # the flow path in (sigma/alpha, x/alpha) coordinates is EDM's x = y + sigma n
    t = torch.tensor(0.4, dtype=torch.float64)
    assert float(torch.exp(-FLOW.log_snr(t))) == pytest.approx(float(t_to_edm_sigma(t)))


def test_from_velocity_rf_convention_reproduces_the_oracle():
    """A field given in the RF paper's convention (t=0 noise) is integrated to the same endpoints as
    the same field in rfbench time: the convention flip is exact."""
    oracle = get_model("analytic-gmm-rf").double()

    def v_rf(x, t_rf):  # RF convention: noise at t_rf = 0, v_rf = x1 - x0 = -v_rfbench
        return -oracle(x, 1 - t_rf)

    user = from_velocity(v_rf, data_shape=(2,))
    noise = oracle.sample_prior(200, seed=3, dtype=torch.float64)
    import rfbench

    a = rfbench.sample(oracle, "heun", 16, noise=noise).x
    b = rfbench.sample(user, "heun", 16, noise=noise).x
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # and the RF convention really is reversed: t_rf = 0 is where the prior lives
    x = torch.zeros(1, 2, dtype=torch.float64)
    torch.testing.assert_close(user.velocity(x, 1.0), oracle.velocity(x, 1.0))


def test_from_velocity_t_is_a_batch_tensor():
    seen = {}

    def fn(x, t):
        seen["shape"] = tuple(t.shape)
        return torch.zeros_like(x)

    import rfbench

    rfbench.sample(from_velocity(fn, data_shape=(2,)), "euler", 2, n=5)
    assert seen["shape"] == (5,)


def test_velocity_is_not_a_diffusion_v_prediction():
    """The pitfall the README warns about: alpha*eps - sigma*x0 differs from the flow velocity."""
    model = get_model("analytic-gmm-rf").double()
    x = model.sample_prior(8, seed=0, dtype=torch.float64)
    t = 0.5
    x0, eps = model.x0(x, t), model.eps(x, t)
    diffusion_v = FLOW.alpha(t) * eps - FLOW.sigma(t) * x0
    assert not torch.allclose(diffusion_v, model.velocity(x, t))
    torch.testing.assert_close(model.velocity(x, t), eps - x0)
    assert math.isclose(float(FLOW.alpha(t)), 0.5)


def test_discrete_vp_schedule_matches_ddpm_alphas_cumprod_and_inverts():
    """At the grid points t_k = (k+1)/T the schedule reproduces DDPM's alphas_cumprod exactly
    (computed here independently from the betas), and lambda(t) inverts."""
    from rfbench.models.schedules import DiscreteVPSchedule

    sched = DiscreteVPSchedule()
    betas = [1e-4 + (0.02 - 1e-4) * k / 999 for k in range(1000)]
    prod, acp = 1.0, []
    for b in betas:
        prod *= 1 - b
        acp.append(prod)
    for k in (0, 1, 10, 500, 999):
        t = (k + 1) / 1000
        assert float(sched.alpha(t)) ** 2 == pytest.approx(acp[k], rel=1e-12)
        assert float(sched.timestep(t)) == pytest.approx(k)
    t = torch.linspace(0.0015, 0.999, 101, dtype=torch.float64)
    torch.testing.assert_close(sched.t_of_log_snr(sched.log_snr(t)), t, rtol=1e-9, atol=1e-9)
    h = 1e-7
    tm = torch.tensor([0.2503, 0.7107], dtype=torch.float64)  # inside intervals (slopes are piecewise constant)
    torch.testing.assert_close(sched.d_alpha(tm), (sched.alpha(tm + h) - sched.alpha(tm - h)) / (2 * h), rtol=1e-6,
                               atol=1e-9)
