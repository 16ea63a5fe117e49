"""Test helpers shared by test_unipc.py, test_deis.py and test_ipndm.py.

A single Gaussian N(mu, s^2 I) under a path x_t = alpha_t x0 + sigma_t n has a closed-form
probability-flow ODE solution: (x_t - alpha_t mu) / S_t is constant along trajectories,
S_t^2 = alpha_t^2 s^2 + sigma_t^2. Its data and noise predictions are smooth, non-polynomial functions
of t and lambda, so sampler errors against the exact endpoint are pure discretisation error at no
reference-solve cost. Local truncation errors are measured from exact states on the trajectory.
"""

from __future__ import annotations

import torch

from rfbench.data.toy2d import GaussianMixture
from rfbench.metrics.convergence import fit_order
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW, VPLinearSchedule

MU, STD = (1.5, -0.5), 0.3


def gaussian_oracle(path: str = "flow", t_min: float | None = None, t_max: float | None = None) -> AnalyticGMM:
    """The single-Gaussian oracle on the flow path (default interval [0.02, 0.98], finite lambda) or
    the VP path ([1e-3, 1])."""
    schedule = FLOW if path == "flow" else VPLinearSchedule()
    t_min = t_min if t_min is not None else (0.02 if path == "flow" else 1e-3)
    model = AnalyticGMM(GaussianMixture([1.0], [MU], [STD]), schedule, t_min=t_min, name=f"gauss-{path}").double()
    model.t_max = t_max if t_max is not None else (0.98 if path == "flow" else 1.0)
    return model


def exact(model: AnalyticGMM, x: torch.Tensor, t_from: float, t_to) -> torch.Tensor:
    """The exact state at time(s) ``t_to`` of the trajectory through x at t_from (stacked if a list)."""
    if isinstance(t_to, (list, tuple, torch.Tensor)):
        return torch.stack([exact(model, x, t_from, float(t)) for t in t_to])
    sched, mu = model.schedule, torch.tensor(MU, dtype=torch.float64)

    def a_s(t):
        tt = torch.tensor(float(t), dtype=torch.float64)
        a, s = sched.alpha(tt), sched.sigma(tt)
        return a, torch.sqrt(a**2 * STD**2 + s**2)

    (a0, S0), (a1, S1) = a_s(t_from), a_s(t_to)
    return a1 * mu + (S1 / S0) * (x - a0 * mu)


def local_slope(model, times_of_h, step, hs=(0.1, 0.05, 0.025, 0.0125), n: int = 64) -> tuple[float, list[float]]:
    """Slope of log(max error of one step) against log(1/h), the step taken from exact states.

    times_of_h(h): the grid (history points then the step's end); step(times, xs): the state at
    times[-1] computed from the exact states xs at times[:-1].
    """
    x0 = model.sample_prior(n, seed=11, dtype=torch.float64)
    errors = []
    for h in hs:
        times = [float(t) for t in times_of_h(h)]
        xs = exact(model, x0, model.t_max, times)
        errors.append(float((step(times, xs[:-1]) - xs[-1]).abs().max()))
    return fit_order([1 / h for h in hs], errors), errors


def lambda_uniform(model, k: int, t_mid: float = 0.5):
    """k history points ending at t_mid and one step beyond, uniform in lambda with step h."""
    lam0 = float(model.schedule.log_snr(torch.tensor(t_mid, dtype=torch.float64)))
    return lambda h: model.schedule.t_of_log_snr(
        torch.tensor([lam0 + (j - (k - 1)) * h for j in range(k + 1)], dtype=torch.float64))


def assert_nfe_matches_plan(model, sampler: str, nfes, option_sets) -> None:
    """Every (NFE, options): the hook's count equals the plan and the request, samples finite."""
    import rfbench

    for nfe in nfes:
        for options in option_sets:
            out = rfbench.sample(model, sampler, nfe, n=8, **options)
            assert out.nfe_measured == out.nfe_expected == nfe, (model.name, nfe, options, out.nfe_measured)
            assert torch.isfinite(out.x).all(), (model.name, nfe, options)
