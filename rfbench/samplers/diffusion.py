"""First- and second-order samplers in the coordinates of the path: DDIM and EDM's Heun.

Both work on any model with a schedule (x_t = alpha x0 + sigma n). In the coordinates
y = x / alpha and s = sigma / alpha the probability-flow ODE is dy/ds = E[n | x] (Karras et al. 2022,
sec. 4; Song et al. 2021, DDIM as Euler in these coordinates):

* ``ddim``: one Euler step in (s, y), i.e. x_{t'} = alpha' x0_hat + sigma' n_hat (deterministic,
  eta = 0). On the flow path it coincides with Euler in t; on a VP path it is DDIM.
* ``edm-heun``: Heun in (s, y) on EDM's rho = 7 grid, the last step (to s = 0) Euler, so
  NFE = 2M - 1 for M steps: EDM's and PFGM++'s own sampler.
"""

from __future__ import annotations

import torch

from ..errors import NotApplicableError
from ..models.base import FlowModel
from .plans import edm_heun_plan
from .registry import SamplerSpec, register_sampler


def _coords(model: FlowModel, t: float) -> tuple[float, float]:
    sched = model.schedule
    tt = torch.tensor(t, dtype=torch.float64)
    return float(sched.alpha(tt)), float(sched.sigma(tt))


@torch.no_grad()
def sample_ddim(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """DDIM (eta = 0): x_{i+1} = alpha_{i+1} x0(x_i, t_i) + sigma_{i+1} eps(x_i, t_i)."""
    times = ts.tolist()
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        out = model.evaluate(x, t)
        x0 = model.convert(out, "x0", x, t)
        eps = model.convert(out, "eps", x, t)
        a_next, s_next = _coords(model, t_next)
        x = a_next * x0 + s_next * eps
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


@torch.no_grad()
def sample_edm_heun(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, final_euler: bool = False,
                    callback=None) -> torch.Tensor:
    """EDM's deterministic Heun sampler (Karras et al. 2022, Alg. 1, S_churn = 0) in (s, y)."""
    times = ts.tolist()
    a0, _ = _coords(model, times[0])
    if a0 == 0.0:
        raise NotApplicableError(
            f"edm-heun integrates in s = sigma/alpha, which is infinite at t_max for model {model.name!r} "
            "(alpha(t_max) = 0); use heun, ddim or a DPM-Solver instead"
        )
    last = len(times) - 2
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        a, sig = _coords(model, t)
        a_next, sig_next = _coords(model, t_next)
        s, s_next = sig / a, sig_next / a_next
        y = x / a
        d = model.eps(x, t)  # dy/ds = E[n | x]
        y_pred = y + (s_next - s) * d
        if i == last and (final_euler or s_next == 0.0 or (t_next == model.t_min and not model.eval_at_t_min)):
            y = y_pred
        else:
            y = y + (s_next - s) / 2 * (d + model.eps(a_next * y_pred, t_next))
        x = a_next * y
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


register_sampler(SamplerSpec(
    name="ddim", fn=sample_ddim, order=1, nfe_per_step="1", needs="schedule",
    paper="DDIM (Song, Meng & Ermon 2021, arXiv 2010.02502), eta = 0; = DPM-Solver-1",
    description="Euler in (sigma/alpha, x/alpha); equals Euler in t on the flow path.",
))
register_sampler(SamplerSpec(
    name="edm-heun", fn=sample_edm_heun, order=2, nfe_per_step="2 (last step 1: NFE = 2M - 1)",
    paper="EDM deterministic sampler (Karras et al. 2022, arXiv 2206.00364, Alg. 1); PFGM++'s sampler",
    description="Heun in (sigma/alpha, x/alpha) on the rho = 7 grid; last step Euler.",
    default_grid="karras", plan=edm_heun_plan, needs="schedule",
))
