"""DEIS (Zhang & Chen 2022, arXiv 2204.13902): the multistep exponential integrator tAB-DEIS.

Written from the paper, in the exponential-integrator frame of DPM-Solver (``dpm_solver.py``), on
any model with a schedule x_t = alpha_t x0 + sigma_t n. The exact solution of the probability-flow
ODE over a step s -> t, in the form's coordinates (a, b, m) = (alpha, sigma, eps_hat) (noise form,
the paper's) or (sigma, alpha, x0_hat) (data form), l = log(a / b), h = l_t - l_s, is

    x_t = (a_t/a_s) x_s - a_t int_{l_s}^{l_t} e^{-l} m(l) dl.

tAB-DEIS replaces m by the Lagrange polynomial **in t** through the last k outputs
m_i, ..., m_{i-k+1} (k = ``order``; the paper's tAB-r has degree r = k - 1, r = 0 being DDIM) and
integrates it exactly against the exponential weight:

    x_t = (a_t/a_s) x_s + sum_j C_j m_{i-j},   C_j = -b_t int_{-h}^{0} e^{-u} L_j(t(l_t + u)) du.

For k = 1 the integral is closed form (C_0 = -b_t expm1(h): DDIM). For k >= 2 it is a composite
16-point Gauss-Legendre rule in u, one panel per unit of l: the integrand is analytic in l for the
flow and VP schedules (t(lambda) has its nearest complex singularities pi/2 or more off the real
axis), so each panel is exact to round-off; the official code uses a 10,000-point Riemann sum.
``variable="logrho"`` interpolates in log(sigma/alpha) = -lambda instead of t: this is diffusers'
``DEISMultistepScheduler`` (``solver_type="logrho"``) and, at k = 2, DPM-Solver-2M's "taylor" update
(both tested). The paper's rhoAB-DEIS (polynomial in sigma/alpha) is not offered.

Warm-up: step i has order at most i + 1 (the first-order first step limits order 3 to 2 only in the
limit: its local error is ~ h^2 dm/dl at the noise end, where the predictions barely change; measured
order 2.98 at 768..6144 NFE on the VP oracle). ``lower_order_final`` (off by default, as in the official
code) is diffusers' rule: below 15 steps the last step is first order and the one before at most
second order. One evaluation per step, none at the final time: NFE = steps.

**Ends where lambda is infinite** (the flow path at t = 1 and t = 0), decided per step from the
times walked, as for DPM-Solver: such a step is the first-order step without lambda,
x_t = alpha_t x0_hat + sigma_t eps_hat, and no history point at infinite lambda is used.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..models.base import FlowModel
from .dpm_solver import FORMS, _coords, _Coords, _ddim, multistep_orders
from .registry import Plan, SamplerSpec, register_sampler
from .unipc import check_options

VARIABLES = ("t", "logrho")
DIFFUSERS_LOWER_ORDER_BELOW = 15  # diffusers' DEIS: lower-order final steps only below 15 steps
_GL_X, _GL_W = (torch.as_tensor(v, dtype=torch.float64) for v in np.polynomial.legendre.leggauss(16))


def _quadrature(h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of int_{-h}^{0} f(u) du (either sign of h): 16 Gauss-Legendre points per panel
    of length at most 1."""
    panels = max(1, math.ceil(abs(h)))
    edges = torch.linspace(-h, 0.0, panels + 1, dtype=torch.float64)
    half = (edges[1:] - edges[:-1]) / 2
    nodes = (edges[:-1] + half)[:, None] + half[:, None] * _GL_X[None]
    return nodes.flatten(), (half[:, None] * _GL_W[None]).flatten()


def deis_coefficients(model: FlowModel, c: _Coords, i: int, k: int, form: str = "noise",
                      variable: str = "t") -> list[float]:
    """[C_0, ..., C_{k-1}] of the step i -> i + 1 for the outputs at grid points i, i - 1, ..., i - k + 1."""
    t = i + 1
    h = c.l[t] - c.l[i]
    if k == 1:
        return [-c.b[t] * math.expm1(h)]
    u, w = _quadrature(h)
    lam = (c.l[t] + u) * (1 if form == "noise" else -1)  # the form's l back to lambda
    if variable == "t":
        v, nodes = model.schedule.t_of_log_snr(lam).to(torch.float64), [c.t[i - j] for j in range(k)]
    else:  # logrho: -lambda, or equivalently lambda (a Lagrange basis is invariant under affine maps)
        v, nodes = lam, [c.lam[i - j] for j in range(k)]
    weight = w * torch.exp(-u)
    coefs = []
    for j in range(k):
        basis = torch.ones_like(v)
        for q in range(k):
            if q != j:
                basis = basis * (v - nodes[q]) / (nodes[j] - nodes[q])
        coefs.append(-c.b[t] * float((weight * basis).sum()))
    return coefs


def deis_orders(n: int, order: int, finite: list[bool], lower_order_final: bool) -> list[int]:
    """Warm-up as for multistep DPM-Solver (0: an infinite-lambda end); diffusers' final rule if asked."""
    orders = multistep_orders(n, order, finite, lower_order_final=False)
    if lower_order_final and n < DIFFUSERS_LOWER_ORDER_BELOW:
        orders = [min(k, n - i) for i, k in enumerate(orders)]
    return orders


@torch.no_grad()
def sample_deis(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, order: int = 3, form: str = "noise",
                variable: str = "t", lower_order_final: bool = False, callback=None) -> torch.Tensor:
    """Multistep tAB-DEIS of ``order`` k on the grid ``ts``: one evaluation per step, none at ts[-1]."""
    kind = FORMS[form]
    c = _coords(model, ts, form)
    n = len(ts) - 1
    orders = deis_orders(n, order, [c.finite(i) for i in range(n + 1)], lower_order_final)
    m: list[torch.Tensor] = []  # outputs at the last grid points, newest last
    for i, k in enumerate(orders):
        out = model.evaluate(x, c.t[i])
        m = (m + [model.convert(out, kind, x, c.t[i])])[-order:]
        if k == 0:
            x = _ddim(model, out, x, c, i, i + 1)
        else:
            x = (c.a[i + 1] / c.a[i]) * x
            for C_j, m_j in zip(deis_coefficients(model, c, i, k, form, variable), reversed(m)):
                x = x + C_j * m_j
        if callback is not None:
            callback({"i": i, "t": c.t[i], "t_next": c.t[i + 1], "x": x, "order": k})
    return x


def _plan(name: str, order: int):
    def plan(nfe: int, model: FlowModel, options: dict) -> Plan:
        check_options(name, options, {"form": tuple(FORMS), "variable": VARIABLES, "lower_order_final": (True, False)})
        return Plan(steps=nfe, expected_nfe=nfe, kwargs={"order": order})
    return plan


_PAPER = "DEIS (Zhang & Chen 2022, arXiv 2204.13902), tAB-DEIS"
for _k in (1, 2, 3):
    register_sampler(SamplerSpec(
        name=f"deis-{_k}", fn=sample_deis, order=_k, nfe_per_step="1",
        paper=_PAPER + f" with polynomial degree r = {_k - 1}" + (" (= DDIM)" if _k == 1 else ""),
        description=f"Multistep exponential integrator: Lagrange polynomial in t through the last {_k} noise "
                    "predictions (form='data': data predictions; variable='logrho': diffusers' DEIS), "
                    "lower-order warm-up. Steps at an infinite-lambda end are first order.",
        needs="schedule", default_grid="time-quadratic", plan=_plan(f"deis-{_k}", _k),
        options={"form": "noise", "variable": "t", "lower_order_final": False},
    ))
