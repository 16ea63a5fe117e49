"""UniPC (Zhao et al. 2023, arXiv 2302.04867): the unified predictor UniP-p and corrector UniC-p.

Written from the paper in the exponential-integrator frame of DPM-Solver (``dpm_solver.py``), on
any model with a schedule x_t = alpha_t x0 + sigma_t n. In the form's coordinates
(a, b, m) = (sigma, alpha, x0_hat) (data form, UniPC's default) or (alpha, sigma, eps_hat) (noise
form), with l = log(a / b) and h = l_t - l_s, predictor and corrector are one formula,

    x_t = (a_t/a_s) x_s - b_t phi_1(h) m_s - b_t B(h) sum_j rho_j D_j,    D_j = (m_j - m_s) / r_j,

phi_1 = expm1(h), phi_{k+1} = phi_k / h - 1/k! (DPM-Solver's h-scaled phi functions), r_j = (l_j - l_s)/h
the position of output m_j relative to the step, and B(h) = h ("bh1") or expm1(h) ("bh2"). rho
solves sum_j rho_j r_j^(k-1) = k! phi_{k+1}(h) / B(h), k = 1..K, for the K differences used:

* UniP-p (predictor, s -> t): the p - 1 previous outputs m_{s-1}, ..., m_{s-p+1}; order p.
* UniC-p (corrector at t): the same outputs plus m_t = m(x_t_pred, t) at r = 1, applied to the same
  step from the (corrected) x_s; it raises the order of accuracy by one (the paper: UniPC-p is of
  order p + 1). m_t is the evaluation the next predictor uses, so the corrector costs no NFE.

A single difference (UniP-2, UniC-1) takes rho = 1/2, the h -> 0 limit of the solved value, as in
the official code and diffusers (the order is unchanged). Multistep warm-up: step i has order at
most i + 1; ``lower_order_final`` (official code and diffusers, at any number of steps): step i has
order at most n - i, so the last step is first order. There is no corrector after the last step
(it would need an evaluation at t_min), so NFE = steps.

Defaults are diffusers' (bh2, data form, grid uniform in t as in the official Stable Diffusion
example); the official code and docs recommend bh1 for unconditional sampling below 10 steps and
order 3 for unconditional, 2 for guided sampling (``unipc-3`` / ``unipc-2``, ``variant="bh1"``).

**Ends where lambda is infinite** (the flow path at t = 1 and t = 0), decided per step from the
times walked, as for DPM-Solver: a step with an infinite end is the first-order step written
without lambda, x_t = (a_t/a_s)(x_s - b_s m_s) + b_t m_s (= alpha_t x0_hat + sigma_t eps_hat when x_s
is the point the model saw; from alpha_s = 0 in the noise form, DDIM from the model output); it is
not corrected, and no history point at infinite lambda is used. Into sigma = 0 in the data form this
returns x0_hat of the last evaluation, exactly as diffusers' final step.

**Orders.** Measured (tests, float64 oracles with finite lambda): one step of UniP-p has local error
O(h^(p+1)) and UniC-p O(h^(p+2)). Globally, with ``lower_order_final=False``, UniPC-1/-2 are of order
2/3 and UniPC-3 shows 3.7-3.8 at 96..768 NFE (its corrected first-order warm-up step caps the limit
at 3). As published (``lower_order_final=True``, at every step count), the last step is a
first-order step that is not corrected, and the global order is 2 (UniPC-3: 2.1-2.4 at 96..768 NFE).
"""

from __future__ import annotations

import math

import torch

from ..errors import InvalidInputError
from ..models.base import FlowModel
from .dpm_solver import FORMS, _coords, _Coords, _ddim, multistep_orders
from .registry import Plan, SamplerSpec, register_sampler

VARIANTS = ("bh1", "bh2")


def phis(h: float, n: int) -> list[float]:
    """[phi_1, ..., phi_n](h) in DPM-Solver's h-scaled convention: phi_1 = expm1(h), phi_{k+1} = phi_k/h - 1/k!."""
    out = [math.expm1(h)]
    for k in range(1, n):
        out.append(out[-1] / h - 1 / math.factorial(k))
    return out


def uni_coefficients(r: list[float], h: float, variant: str) -> tuple[list[float], float]:
    """(rho, B(h)) for differences at relative positions r (UniP: previous outputs; UniC: plus r = 1)."""
    ph = phis(h, len(r) + 1)
    B = h if variant == "bh1" else ph[0]
    if len(r) == 1:
        return [0.5], B
    R = torch.tensor([[rj ** k for rj in r] for k in range(len(r))], dtype=torch.float64)
    g = torch.tensor([math.factorial(k) * ph[k] / B for k in range(1, len(r) + 1)], dtype=torch.float64)
    return torch.linalg.solve(R, g).tolist(), B


def uni_step(x: torch.Tensor, c: _Coords, s: int, t: int, hist: list[torch.Tensor], variant: str,
             m_t: torch.Tensor | None = None) -> torch.Tensor:
    """UniP (m_t None) or UniC (m_t given) for the step s -> t from x_s.

    hist: the outputs at grid points s - K + 1, ..., s (m_s last), K = the order of the step.
    """
    h = c.l[t] - c.l[s]
    m_s = hist[-1]
    r = [(c.l[s - j] - c.l[s]) / h for j in range(1, len(hist))]
    D = [(hist[-1 - j] - m_s) / r[j - 1] for j in range(1, len(hist))]
    if m_t is not None:
        r.append(1.0)
        D.append(m_t - m_s)
    x_t = (c.a[t] / c.a[s]) * x - (c.b[t] * math.expm1(h)) * m_s
    if D:
        rho, B = uni_coefficients(r, h, variant)
        for rho_j, D_j in zip(rho, D):
            x_t = x_t - (c.b[t] * B * rho_j) * D_j
    return x_t


def first_order_free(model: FlowModel, out: torch.Tensor, x: torch.Tensor, c: _Coords, s: int, t: int,
                     m_s: torch.Tensor) -> torch.Tensor:
    """The first-order step without lambda, x_t = (a_t/a_s)(x_s - b_s m_s) + b_t m_s (steps with an
    infinite-lambda end); from a_s = 0 (noise form at alpha = 0) it is DDIM from the output ``out``."""
    if c.a[s] == 0.0:
        return _ddim(model, out, x, c, s, t)
    return (c.a[t] / c.a[s]) * (x - c.b[s] * m_s) + c.b[t] * m_s


def unipc_orders(n: int, order: int, finite: list[bool], lower_order_final: bool) -> list[int]:
    """Order of each step (0: an infinite-lambda end, first order without lambda): warm-up as for
    multistep DPM-Solver; ``lower_order_final``: step i has order at most n - i (any n)."""
    orders = multistep_orders(n, order, finite, lower_order_final=False)
    return [min(k, n - i) for i, k in enumerate(orders)] if lower_order_final else orders


@torch.no_grad()
def sample_unipc(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, order: int = 2, variant: str = "bh2",
                 form: str = "data", corrector: bool = True, lower_order_final: bool = True,
                 callback=None) -> torch.Tensor:
    """Multistep UniPC-p (p = ``order``) on the grid ``ts``: one evaluation per step, none at ts[-1].

    ``callback`` sees each predictor result x_t (and ``order``); the corrector replaces it at the
    next step, once m_t is known (as diffusers' ``step`` returns the predictor's sample).
    """
    kind = FORMS[form]
    c = _coords(model, ts, form)
    n = len(ts) - 1
    orders = unipc_orders(n, order, [c.finite(i) for i in range(n + 1)], lower_order_final)
    m: list[torch.Tensor] = []  # outputs at the last grid points, newest last
    x_s = x
    for i, k in enumerate(orders):
        out = model.evaluate(x, c.t[i])
        m_i = model.convert(out, kind, x, c.t[i])
        if corrector and i > 0 and orders[i - 1] > 0:  # UniC for the step just taken, from the same x_s
            x = uni_step(x_s, c, i - 1, i, m[-orders[i - 1]:], variant, m_t=m_i)
        m = (m + [m_i])[-order:]
        x_s = x
        if k == 0:
            x = first_order_free(model, out, x, c, i, i + 1, m_i)
        else:
            x = uni_step(x, c, i, i + 1, m[-k:], variant)
        if callback is not None:
            callback({"i": i, "t": c.t[i], "t_next": c.t[i + 1], "x": x, "order": k})
    return x


# -- plans and registry ----------------------------------------------------------------------------------

def check_options(name: str, options: dict, choices: dict[str, tuple]) -> None:
    """Reject unknown options and values outside ``choices`` (option -> allowed values)."""
    unknown = set(options) - set(choices)
    if unknown:
        raise InvalidInputError(f"sampler {name!r} does not take option(s) {sorted(unknown)}; "
                                f"its options: {', '.join(choices)}")
    for key, allowed in choices.items():
        if key in options and not any(options[key] == v and type(options[key]) is type(v) for v in allowed):
            raise InvalidInputError(f"sampler {name!r}: {key} must be one of {list(allowed)}, got {options[key]!r}")


def _plan(name: str, order: int):
    def plan(nfe: int, model: FlowModel, options: dict) -> Plan:
        check_options(name, options, {"variant": VARIANTS, "form": tuple(FORMS), "corrector": (True, False),
                                      "lower_order_final": (True, False)})
        return Plan(steps=nfe, expected_nfe=nfe, kwargs={"order": order})
    return plan


_PAPER = "UniPC (Zhao et al. 2023, arXiv 2302.04867)"
for _p in (1, 2, 3):
    register_sampler(SamplerSpec(
        name=f"unipc-{_p}", fn=sample_unipc, order=2, nfe_per_step="1",
        paper=_PAPER + "; order 2 as published (the last step is first order and uncorrected), "
        f"{min(_p + 1, 3)} with lower_order_final=False",
        description=f"UniP-{_p} predictor + UniC-{_p} corrector (reusing the next evaluation), multistep with "
                    "lower-order warm-up and final steps; B(h) variant bh2 (default) or bh1, data (default) or "
                    "noise form. Steps at an infinite-lambda end are first order, uncorrected.",
        needs="schedule", plan=_plan(f"unipc-{_p}", _p),
        options={"variant": "bh2", "form": "data", "corrector": True, "lower_order_final": True},
    ))
