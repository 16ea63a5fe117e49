"""iPNDM: the improved PNDM of Zhang & Chen (2022, arXiv 2204.13902, DEIS paper) as used in
zju-pi/diff-sampler's tables: Adams-Bashforth on the noise prediction in DDIM's coordinates.

In y = x / alpha and s = sigma / alpha the probability-flow ODE of any model with a schedule is
dy/ds = eps_hat(x, t) (Karras et al. 2022; the coordinates of ``ddim`` and ``edm-heun``). iPNDM is
the explicit linear multistep method with the **fixed** Adams-Bashforth coefficients

    y_{i+1} = y_i + (s_{i+1} - s_i) sum_j b_j eps_{i-j},
    b = 1;  3/2, -1/2;  23/12, -16/12, 5/12;  55/24, -59/24, 37/24, -9/24,

order min(``order``, i + 1) at step i (lower-order warm-up instead of PNDM's Runge-Kutta start), in
x: x_{i+1} = (alpha_{i+1}/alpha_i) x_i + (sigma_{i+1} - alpha_{i+1} s_i) E. This is the same update
as zju-pi's ``ipndm_sampler`` (d = (x - D)/sigma = eps_hat in sigma, alpha = 1 on EDM's path), the
DEIS code's ``ipndm`` (DDIM with the AB-combined eps) and diffusers' ``IPNDMScheduler`` (tested).
The coefficients assume equal steps in s: on a grid that is not uniform in s the method is
consistent but of order 2 at most (and the first-order first step caps it at 2 anyway; measured in
the tests and docs/unipc-deis-ipndm.md).

**The end at alpha = 0** (the flow path at t = 1, s = inf), decided per step from the times
walked: the step from it is DDIM's limit x_t = alpha_t x0_hat + sigma_t eps_hat, and its output is
not used as history (the warm-up restarts after it), as in rfbench's DPM-Solver. The end at
sigma = 0 is an ordinary point (s = 0). One evaluation per step, none at the final time:
NFE = steps.
"""

from __future__ import annotations

import torch

from ..models.base import FlowModel
from .dpm_solver import _coords, _Coords, _ddim, multistep_orders
from .registry import Plan, SamplerSpec, register_sampler
from .unipc import check_options

AB = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def ipndm_step(x: torch.Tensor, c: _Coords, i: int, eps: list[torch.Tensor]) -> torch.Tensor:
    """The Adams-Bashforth step i -> i + 1 of order len(eps) from the noise predictions at grid points
    i - k + 1, ..., i (newest last): y_{i+1} = y_i + (s_{i+1} - s_i) sum_j b_j eps_{i-j}, written in x."""
    E = sum(b * e for b, e in zip(AB[len(eps)], reversed(eps)))
    s_i = c.sigma[i] / c.alpha[i]
    return (c.alpha[i + 1] / c.alpha[i]) * x + (c.sigma[i + 1] - c.alpha[i + 1] * s_i) * E


@torch.no_grad()
def sample_ipndm(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, order: int = 4,
                 callback=None) -> torch.Tensor:
    """iPNDM of maximal ``order`` (1..4) on the grid ``ts``: one evaluation per step, none at ts[-1]."""
    c = _coords(model, ts, "noise")
    n = len(ts) - 1
    orders = multistep_orders(n, order, [a > 0 for a in c.alpha], lower_order_final=False)
    eps: list[torch.Tensor] = []  # noise predictions at the last grid points, newest last
    for i, k in enumerate(orders):
        out = model.evaluate(x, c.t[i])
        eps = (eps + [model.convert(out, "eps", x, c.t[i])])[-order:]
        x = _ddim(model, out, x, c, i, i + 1) if k == 0 else ipndm_step(x, c, i, eps[-k:])
        if callback is not None:
            callback({"i": i, "t": c.t[i], "t_next": c.t[i + 1], "x": x, "order": k})
    return x


def _plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    check_options("ipndm", options, {"order": (1, 2, 3, 4)})
    return Plan(steps=nfe, expected_nfe=nfe)


register_sampler(SamplerSpec(
    name="ipndm", fn=sample_ipndm, order=2, nfe_per_step="1",
    paper="iPNDM (Zhang & Chen 2022, arXiv 2204.13902; zju-pi/diff-sampler); order 2 as measured",
    description="Adams-Bashforth (orders 1..4, option order, default 4) on eps_hat in DDIM's coordinates "
                "(x/alpha, sigma/alpha) with fixed coefficients and lower-order warm-up; EDM's grid by default.",
    needs="schedule", default_grid="karras", plan=_plan, options={"order": 4},
))
