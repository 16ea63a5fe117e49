"""DPM-Solver (Lu et al. 2022, arXiv 2206.00927) and DPM-Solver++ (Lu et al. 2022b, arXiv 2211.01095).

Written from the papers and the restatement of the official code (``dpm_solver_pytorch.py``) in
docs/dpm-solver.md, on any model with a schedule x_t = alpha_t x0 + sigma_t n
(flow, VP, discrete VP): only alpha, sigma and lambda = log(alpha / sigma) at the grid points enter.

**One formula for both forms.** The exact solutions the solvers discretise
(docs/dpm-solver.md#exact-solution-forms),

    noise form (DPM-Solver):    x_t = (alpha_t/alpha_s) x_s - alpha_t int e^{-lambda} eps(lambda) dlambda
    data form  (DPM-Solver++):  x_t = (sigma_t/sigma_s) x_s + sigma_t int e^{+lambda} x0(lambda) dlambda,

are the same formula in the form's coordinates (a, b, m) = (alpha, sigma, eps_hat) or
(sigma, alpha, x0_hat), with l = log(a / b) (= lambda, resp. -lambda):

    x_t = (a_t/a_s) x_s - a_t int_{l_s}^{l_t} e^{-l} m(l) dl
        = (a_t/a_s) x_s - b_t [phi1(h) m + phi2(h) h m' + phi3(h) h^2 m'' + ...],   h = l_t - l_s,
    phi1 = expm1(h),  phi2 = phi1/h - 1,  phi3 = phi2/h - 1/2.

These are the papers' phi functions (for DPM-Solver++ h = -h_lambda, and the paper's +phi2 term
is our -phi2(h) term). Each update below estimates h m' (D1) and h^2 m'' from model outputs.

**Ends where lambda is infinite.** On the flow path lambda(t=1) = -inf (alpha = 0) and lambda(t=0)
= +inf (sigma = 0). A step with an infinite end is taken as the first-order step written without
lambda, x_t = alpha_t x0_hat(x_s) + sigma_t eps_hat(x_s) (DDIM; on the flow path exactly an Euler
step in t). It is the exact limit of DPM-Solver-1 / DPM-Solver++(1): from alpha = 0 it gives
x_t = sigma_t x_s + alpha_t x0_hat (the "alpha = 0 first step"), into sigma = 0 it returns x0_hat
(diffusers' final step). Multistep solvers never use a history point at infinite lambda (the limit
of their formulas as it recedes to lambda = -inf is the lower-order formula), and singlestep plans
give each infinite-end interval one first-order step. Which ends are infinite is read from the
times walked, not from the model's interval: an explicit grid from t = 0.999, or over [0.98, 0.02],
has a finite first step, which keeps its full order (and corrected 3M its DPM-Solver-2 start). So
samplers integrate the whole interval from the prior (t = 1) to the data (t = 0) with no start
shift; the price is that the end steps are first order, which caps the global order on such a path
at 2 (measured in the tests; the nominal orders show on an interval with finite lambda, e.g. the VP
models or the flow walked over [0.98, 0.02]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InvalidInputError
from ..models.base import FlowModel
from .registry import Plan, SamplerSpec, register_sampler

FORMS = {"noise": "eps", "data": "x0"}  # form -> the model prediction it integrates
SOLVER_TYPES = ("midpoint", "taylor")  # official 'dpmsolver' / 'taylor' (diffusers 'midpoint' / 'heun')
SKIP_TYPES = {"logSNR": "logsnr", "time_uniform": "uniform", "time_quadratic": "time-quadratic"}
LOWER_ORDER_FINAL_BELOW = 10  # official code: lower-order final steps only when steps < 10 (docstring: 15)
# lower_order_final: True (official: below 10 steps), False, or "always" (the same rule at every step count:
# on a time-uniform VP grid the long last step in lambda needs it; docs/dpm-solver.md, "NFE 8 beats NFE 16")


# -- coefficients ------------------------------------------------------------------------------------

@dataclass
class _Coords:
    """alpha, sigma, lambda and the form's (a, b, l) at each time, as float64 Python numbers (computed once)."""

    t: list[float]
    alpha: list[float]
    sigma: list[float]
    lam: list[float]
    a: list[float]
    b: list[float]
    l: list[float]  # noqa: E741

    def finite(self, i: int) -> bool:
        return math.isfinite(self.l[i])


def _coords(model: FlowModel, times, form: str) -> _Coords:
    sched = model.require_schedule("DPM-Solver's data/noise")
    t = torch.as_tensor(times, dtype=torch.float64)
    alpha, sigma, lam = sched.alpha(t).tolist(), sched.sigma(t).tolist(), sched.log_snr(t).tolist()
    if form == "noise":
        return _Coords(t.tolist(), alpha, sigma, lam, alpha, sigma, lam)
    return _Coords(t.tolist(), alpha, sigma, lam, sigma, alpha, [-v for v in lam])


def _phi(h: float) -> tuple[float, float, float]:
    """phi1, phi2, phi3 of a step of size h in the form's log-ratio (expm1 keeps phi1 exact for small h)."""
    phi1 = math.expm1(h)
    phi2 = phi1 / h - 1
    return phi1, phi2, phi2 / h - 0.5


# -- updates: each reads like its equation in docs/dpm-solver.md ----------------------------------------

def _ddim(model: FlowModel, out: torch.Tensor, x: torch.Tensor, c: _Coords, s: int, t: int) -> torch.Tensor:
    """The first-order step without lambda, x_t = alpha_t x0_hat + sigma_t eps_hat (infinite-lambda ends)."""
    x0 = model.convert(out, "x0", x, c.t[s])
    eps = model.convert(out, "eps", x, c.t[s])
    return c.alpha[t] * x0 + c.sigma[t] * eps


def _first_order(x, c: _Coords, s: int, t: int, m_s):
    """DPM-Solver-1 = DPM-Solver++(1) = DDIM: x_t = (a_t/a_s) x_s - b_t phi1 m_s."""
    phi1, _, _ = _phi(c.l[t] - c.l[s])
    return (c.a[t] / c.a[s]) * x - (c.b[t] * phi1) * m_s


def _singlestep_2(predict, x, c: _Coords, s: int, s1: int, t: int, m_s, solver_type: str):
    """DPM-Solver-2 / ++(2S): a first-order step to s1 = l_s + r1 h, then the correction from m(u, s1)."""
    h = c.l[t] - c.l[s]
    r1 = (c.l[s1] - c.l[s]) / h
    phi1, phi2, _ = _phi(h)
    u = _first_order(x, c, s, s1, m_s)
    d = predict(u, s1) - m_s
    correction = phi1 / (2 * r1) if solver_type == "midpoint" else phi2 / r1
    return (c.a[t] / c.a[s]) * x - (c.b[t] * phi1) * m_s - (c.b[t] * correction) * d


def _singlestep_3(predict, x, c: _Coords, s: int, s1: int, s2: int, t: int, m_s, solver_type: str):
    """DPM-Solver-3 / ++(3S): first-order step to s1, second-order step to s2, third-order to t."""
    h = c.l[t] - c.l[s]
    r1, r2 = (c.l[s1] - c.l[s]) / h, (c.l[s2] - c.l[s]) / h
    phi1, phi2, phi3 = _phi(h)
    u1 = _first_order(x, c, s, s1, m_s)
    d1 = predict(u1, s1) - m_s
    _, phi2_r2, _ = _phi(r2 * h)
    u2 = _first_order(x, c, s, s2, m_s) - ((r2 / r1) * c.b[s2] * phi2_r2) * d1
    d2 = predict(u2, s2) - m_s
    base = (c.a[t] / c.a[s]) * x - (c.b[t] * phi1) * m_s
    if solver_type == "midpoint":  # the paper's DPM-Solver-3 (official 'dpmsolver' type)
        return base - (c.b[t] * phi2 / r2) * d2
    D1_0, D1_1 = d1 / r1, d2 / r2  # 'taylor': h m' and h^2 m'' from the two stages
    D1 = (r2 * D1_0 - r1 * D1_1) / (r2 - r1)
    D2 = 2 * (D1_1 - D1_0) / (r2 - r1)
    return base - (c.b[t] * phi2) * D1 - (c.b[t] * phi3) * D2


def _multistep_2(x, c: _Coords, i: int, m, solver_type: str):
    """2M: m = [.., m1 at t_{i-1}, m0 at t_i]; D1_0 = (m0 - m1)/r0 estimates h m'."""
    h, h0 = c.l[i + 1] - c.l[i], c.l[i] - c.l[i - 1]
    phi1, phi2, _ = _phi(h)
    D1_0 = (m[-1] - m[-2]) / (h0 / h)
    coef = 0.5 * phi1 if solver_type == "midpoint" else phi2
    return (c.a[i + 1] / c.a[i]) * x - (c.b[i + 1] * phi1) * m[-1] - (c.b[i + 1] * coef) * D1_0


def _multistep_3(x, c: _Coords, i: int, m, d2_factor: float):
    """3M: D1 ~ h m' and D2 ~ h^2 m''/2 from three outputs.

    The h^2 m'' term of the expansion is -b_t phi3 h^2 m'' = -b_t phi3 (2 D2). The official code and
    diffusers use -b_t phi3 D2 (``d2_factor=1``), which makes the step only second-order accurate
    (docs/dpm-solver-3m.md#the-inconsistent-coefficient); ``d2_factor=2`` is the consistent third-order coefficient.
    """
    h, h0, h1 = c.l[i + 1] - c.l[i], c.l[i] - c.l[i - 1], c.l[i - 1] - c.l[i - 2]
    r0, r1 = h0 / h, h1 / h
    phi1, phi2, phi3 = _phi(h)
    D1_0, D1_1 = (m[-1] - m[-2]) / r0, (m[-2] - m[-3]) / r1
    D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)
    D2 = (D1_0 - D1_1) / (r0 + r1)
    return ((c.a[i + 1] / c.a[i]) * x - (c.b[i + 1] * phi1) * m[-1] - (c.b[i + 1] * phi2) * D1
            - (d2_factor * c.b[i + 1] * phi3) * D2)


# -- the samplers ---------------------------------------------------------------------------------------

def multistep_orders(n: int, order: int, finite: list[bool], lower_order_final: bool = True,
                     first_singlestep: bool = False) -> list[int]:
    """Order of each of the n multistep steps; 0 marks a step with an infinite-lambda end (DDIM).

    Warm-up: step i (0-based) has a history of i + 1 outputs, so order <= i + 1 (a singlestep
    DPM-Solver-2 first step counts as order 2). History points at infinite lambda are not used.
    ``lower_order_final`` (official, steps < 10; ``"always"``: at every n): step i has order <= n - i,
    so the last step is first order and the one before at most second order.
    """
    orders = []
    for i in range(n):
        if not (finite[i] and finite[i + 1]):
            orders.append(0)
            continue
        k = min(order, i + 1 + (1 if first_singlestep and i == 0 else 0))
        while k > 1 and i > 0 and not all(finite[i - k + 1: i + 1]):
            k -= 1
        if lower_order_final == "always" or (lower_order_final and n < LOWER_ORDER_FINAL_BELOW):
            k = min(k, n - i)
        orders.append(k)
    return orders


@torch.no_grad()
def sample_dpm_multistep(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, order: int = 2,
                         form: str = "data", solver_type: str = "midpoint", lower_order_final: bool = True,
                         d2_factor: float = 1.0, first_singlestep: bool = False,
                         callback=None) -> torch.Tensor:
    """Multistep DPM-Solver(++) 2M / 3M on the grid ``ts``: one evaluation per step (none at ts[-1]).

    x: (batch, *data_shape) at ts[0]. ``first_singlestep``: take the first step with DPM-Solver-2
    (r1 = 1/2 in lambda, one extra evaluation) instead of the first-order warm-up step, which a
    third-order multistep method needs to stay third order (corrected 3M).
    """
    kind = FORMS[form]
    c = _coords(model, ts, form)
    n = len(ts) - 1
    orders = multistep_orders(n, order, [c.finite(i) for i in range(n + 1)], lower_order_final, first_singlestep)
    m: list[torch.Tensor] = []  # outputs at the last grid points, newest last
    for i, k in enumerate(orders):
        out = model.evaluate(x, c.t[i])
        m = (m + [model.convert(out, kind, x, c.t[i])])[-3:]
        if k == 0:
            x = _ddim(model, out, x, c, i, i + 1)
        elif i == 0 and k == 2:  # DPM-Solver-2 start (corrected 3M)
            mid = _coords(model, [c.t[0], _t_mid(model, c, 0, 1), c.t[1]], form)
            predict = lambda u, j: model.predict(u, mid.t[j], kind)  # noqa: E731
            x = _singlestep_2(predict, x, mid, 0, 1, 2, m[-1], "midpoint")
        elif k == 1:
            x = _first_order(x, c, i, i + 1, m[-1])
        elif k == 2:
            x = _multistep_2(x, c, i, m, solver_type)
        else:
            x = _multistep_3(x, c, i, m, d2_factor)
        if callback is not None:
            callback({"i": i, "t": c.t[i], "t_next": c.t[i + 1], "x": x, "order": k})
    return x


def _t_mid(model: FlowModel, c: _Coords, s: int, t: int) -> float:
    """The time half-way in lambda between grid points s and t."""
    lam_mid = 0.5 * (c.lam[s] + c.lam[t])
    return float(model.schedule.t_of_log_snr(torch.tensor(lam_mid, dtype=torch.float64)))


@torch.no_grad()
def sample_dpm_singlestep(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, orders: list[int],
                          form: str = "noise", solver_type: str = "midpoint",
                          callback=None) -> torch.Tensor:
    """Singlestep DPM-Solver(++) with per-step ``orders`` on the fine grid ``ts`` (sum(orders) steps).

    Step j spans orders[j] fine intervals: its start and end are the outer points, the fine points
    inside are its intermediate times (r1, r2 = their lambda fractions: 1/2 or 1/3, 2/3 on a
    lambda-uniform grid, as in the official code for every skip type).
    """
    kind = FORMS[form]
    c = _coords(model, ts, form)
    if sum(orders) != len(ts) - 1:
        raise InvalidInputError(
            f"singlestep DPM-Solver: orders {orders} need {sum(orders)} grid steps, got {len(ts) - 1}")
    predict = lambda u, j: model.predict(u, c.t[j], kind)  # noqa: E731
    s = 0
    for step, k in enumerate(orders):
        t = s + k
        out = model.evaluate(x, c.t[s])
        if not (c.finite(s) and c.finite(t)):
            if k != 1:
                raise InvalidInputError(f"singlestep DPM-Solver: a step of order {k} touches infinite lambda "
                                        f"(t = {c.t[s]} .. {c.t[t]}); such steps must be first order")
            x = _ddim(model, out, x, c, s, t)
        else:
            m_s = model.convert(out, kind, x, c.t[s])
            if k == 1:
                x = _first_order(x, c, s, t, m_s)
            elif k == 2:
                x = _singlestep_2(predict, x, c, s, s + 1, t, m_s, solver_type)
            else:
                x = _singlestep_3(predict, x, c, s, s + 1, s + 2, t, m_s, solver_type)
        if callback is not None:
            callback({"i": step, "t": c.t[s], "t_next": c.t[t], "x": x, "order": k})
        s = t
    return x


# -- plans: NFE -> steps, orders and grid ------------------------------------------------------------

def infinite_ends(model: FlowModel, span: tuple[float, float] | None = None) -> tuple[bool, bool]:
    """Whether lambda is infinite at the first and at the last time walked (``span``; default the
    model's t_max, where alpha may be 0, and t_min, where sigma may be 0)."""
    span = (model.t_max, model.t_min) if span is None else span
    lam = model.require_schedule("DPM-Solver's data/noise").log_snr(torch.tensor(span, dtype=torch.float64))
    return bool(torch.isinf(lam[0])), bool(torch.isinf(lam[1]))


def fast_orders(nfe: int, order: int) -> list[int]:
    """DPM-Solver-fast's order allocation for ``nfe`` evaluations (official code; docs/dpm-solver.md#the-fast-order-allocation)."""
    if nfe == 0:
        return []
    if order == 3:
        K = nfe // 3 + 1
        return {0: [3] * (K - 2) + [2, 1], 1: [3] * (K - 1) + [1], 2: [3] * (K - 1) + [2]}[nfe % 3]
    if order == 2:
        return [2] * (nfe // 2) + [1] * (nfe % 2)
    return [1] * nfe


def fixed_orders(nfe: int, order: int) -> list[int]:
    """nfe // order steps of ``order``, and one step of order nfe % order for the remainder."""
    return [order] * (nfe // order) + ([nfe % order] if nfe % order else [])


def _grid_from_options(name: str, options: dict, known: tuple[str, ...]) -> str | None:
    """Validate the options; the grid named by ``skip_type`` (None: the caller's or the default)."""
    unknown = set(options) - set(known)
    if unknown:
        raise InvalidInputError(f"sampler {name!r} does not take option(s) {sorted(unknown)}; "
                                f"its options: {', '.join(known)}")
    st = options.get("solver_type", "midpoint")
    if st not in SOLVER_TYPES:
        raise InvalidInputError(f"sampler {name!r}: solver_type must be one of {SOLVER_TYPES}, got {st!r}")
    lof = options.get("lower_order_final", True)
    if not (isinstance(lof, bool) or lof == "always"):
        raise InvalidInputError(f"sampler {name!r}: lower_order_final must be True (below {LOWER_ORDER_FINAL_BELOW} "
                                "steps, official), False or 'always'")
    skip = options.get("skip_type")
    if skip is not None and skip not in SKIP_TYPES:
        raise InvalidInputError(f"sampler {name!r}: skip_type must be one of {sorted(SKIP_TYPES)}, got {skip!r}")
    return SKIP_TYPES[skip] if skip is not None else None


def singlestep_orders(n: int, order: int, fast: bool, head: bool, tail: bool) -> list[int]:
    """Orders of the singlestep steps on a fine grid of n intervals (they sum to n = NFE).

    ``head`` / ``tail``: lambda is infinite at the first / last time walked; each such end gets one
    first-order step, and the fixed (``fast``: DPM-Solver-fast's) allocation fills the rest.
    """
    if n <= head + tail:
        return [1] * n
    return [1] * head + (fast_orders if fast else fixed_orders)(n - head - tail, order) + [1] * tail


def _singlestep_order_at(order: int, fast: bool):
    """Global order of a singlestep plan: its bulk order, or k + 1 where a lone step of order k < order
    (the remainder step, or a first-order step at an infinite-lambda end) adds its local error h^(k+1)."""
    def order_at(nfe: int, model: FlowModel) -> int:
        steps = singlestep_orders(nfe, order, fast, *infinite_ends(model))
        return min(order, min(steps) + 1)
    return order_at


# The plans decide from the span walked, not from the model's interval: on an explicit grid with
# finite-lambda ends (diffusers' grid from t = 0.999, or [0.98, 0.02] on the flow) no step needs the
# lambda-free first-order treatment, and the solvers keep their full order.

def _singlestep_plan(name: str, form: str, order: int, fast: bool):
    def plan(nfe: int, model: FlowModel, options: dict, span: tuple[float, float]) -> Plan:
        grid = _grid_from_options(name, options, ("skip_type", "solver_type") + (("order",) if fast else ()))
        k = options.get("order", order)
        if k not in (1, 2, 3):
            raise InvalidInputError(f"sampler {name!r}: order must be 1, 2 or 3, got {k!r}")
        orders = singlestep_orders(nfe, k, fast, *infinite_ends(model, span))
        return Plan(steps=sum(orders), expected_nfe=sum(orders), grid=grid,
                    kwargs={"orders": orders, "form": form},
                    grid_options={"logsnr": {"groups": orders}})
    return plan


def _multistep_plan(name: str, form: str, order: int, d2_factor: float = 1.0, corrected_start: bool = False):
    def plan(nfe: int, model: FlowModel, options: dict, span: tuple[float, float]) -> Plan:
        grid = _grid_from_options(name, options, ("skip_type", "solver_type", "lower_order_final"))
        head, _ = infinite_ends(model, span)
        # the DPM-Solver-2 first step needs a finite first interval that is not also the last step
        first_singlestep = corrected_start and not head and nfe >= 3
        return Plan(steps=nfe - first_singlestep, expected_nfe=nfe, grid=grid,
                    kwargs={"order": order, "form": form, "d2_factor": d2_factor,
                            "first_singlestep": first_singlestep})
    return plan


def final_step_note(sampler: str, grid: str, nfes: list[float], errors: list[float]) -> str | None:
    """Why a multistep DPM-Solver's error rises with NFE, for a convergence table, or None.

    Under the official rule the final steps are lowered only below 10 steps; on a time-uniform grid the
    last step is long in lambda (3.03 of the 9.58 lambda spans on the VP oracle at 16 steps, 4.4x the step before
    it), where a second- or third-order multistep step extrapolates its history badly, so NFE 8 (first-order
    last step) can beat NFE 16 (docs/dpm-solver.md, "NFE 8 beats NFE 16")."""
    from .registry import SAMPLERS

    if sampler not in SAMPLERS or SAMPLERS.get(sampler).fn is not sample_dpm_multistep or grid != "uniform":
        return None
    below = [e for n, e in zip(nfes, errors) if n < LOWER_ORDER_FINAL_BELOW]
    above = [e for n, e in zip(nfes, errors) if n >= LOWER_ORDER_FINAL_BELOW]
    if not below or not above or above[0] <= below[-1]:
        return None
    return (f"error rises from NFE < {LOWER_ORDER_FINAL_BELOW} to >= {LOWER_ORDER_FINAL_BELOW}: the official rule "
            "lowers the final step's order only below 10 steps, and the time-uniform grid's last step is long in "
            "lambda; lower_order_final='always' or skip_type='logSNR' converge (docs/dpm-solver.md)")


# -- registry -----------------------------------------------------------------------------------------

_DPM = "DPM-Solver (Lu et al. 2022, arXiv 2206.00927)"
_DPMPP = "DPM-Solver++ (Lu et al. 2022b, arXiv 2211.01095)"
_ENDS = " Steps at an infinite-lambda end (flow path t = 1, t = 0) are first-order (DDIM)."

_SINGLE = [
    ("dpm-solver-1", "noise", 1, False, _DPM, "DPM-Solver-1 (= DDIM) in the noise form."),
    ("dpm-solver-2", "noise", 2, False, _DPM, "Singlestep DPM-Solver-2, r1 = 1/2 on a logSNR grid; odd NFE ends "
                                               "with a first-order step."),
    ("dpm-solver-3", "noise", 3, False, _DPM, "Singlestep DPM-Solver-3, r = 1/3, 2/3 on a logSNR grid; NFE not a "
                                               "multiple of 3 ends with a step of order NFE mod 3."),
    ("dpm-solver-fast", "noise", 3, True, _DPM, "DPM-Solver-fast: singlestep orders [3, .., 3, 2, 1] allocated "
                                                 "for the NFE (official table); option order = 2 or 3."),
    ("dpm-solver++-1", "data", 1, False, _DPMPP, "DPM-Solver++(1) (= DDIM) in the data form."),
    ("dpm-solver++-2s", "data", 2, False, _DPMPP, "Singlestep DPM-Solver++(2S) in the data form."),
    ("dpm-solver++-3s", "data", 3, False, _DPMPP, "Singlestep DPM-Solver++(3S) in the data form."),
]
for _name, _form, _order, _fast, _paper, _desc in _SINGLE:
    register_sampler(SamplerSpec(
        name=_name, fn=sample_dpm_singlestep, order=_order,
        nfe_per_step=("mixed: orders 3,..,3,2,1 (fast table)" if _fast else
                      {1: "1", 2: "2 (odd NFE: last step order 1)",
                       3: "3 (NFE not a multiple of 3: last step order NFE mod 3)"}[_order]),
        paper=_paper, description=_desc + _ENDS, needs="schedule",
        default_grid="logsnr" if _form == "noise" else "uniform",
        plan=_singlestep_plan(_name, _form, _order, _fast), plan_on_span=True,
        order_at=_singlestep_order_at(_order, _fast),
        options={"skip_type": "logSNR" if _form == "noise" else "time_uniform", "solver_type": "midpoint",
                 **({"order": 3} if _fast else {})},
    ))

_MULTI = [
    ("dpm-solver-2m", "noise", 2, 2, 1.0, False, _DPM, "Multistep DPM-Solver-2 in the noise form."),
    ("dpm-solver-3m", "noise", 3, 2, 1.0, False, _DPM,
     "Multistep DPM-Solver-3 as published/implemented (phi3 D2 coefficient): second order."),
    ("dpm-solver-3m-corrected", "noise", 3, 3, 2.0, True, _DPM,
     "Multistep DPM-Solver-3 with the consistent 2 phi3 D2 coefficient and a DPM-Solver-2 first step "
     "(+1 NFE): third order."),
    ("dpm-solver++-2m", "data", 2, 2, 1.0, False, _DPMPP, "DPM-Solver++(2M), the data-form multistep solver."),
    ("dpm-solver++-3m", "data", 3, 2, 1.0, False, _DPMPP,
     "DPM-Solver++(3M) as published/implemented (phi3 D2 coefficient): second order."),
    ("dpm-solver++-3m-corrected", "data", 3, 3, 2.0, True, _DPMPP,
     "DPM-Solver++(3M) with the consistent 2 phi3 D2 coefficient and a DPM-Solver++(2S) first step "
     "(+1 NFE): third order."),
]
for _name, _form, _order, _true_order, _d2, _corr, _paper, _desc in _MULTI:
    register_sampler(SamplerSpec(
        name=_name, fn=sample_dpm_multistep, order=_true_order,
        nfe_per_step="1 (+1 for the DPM-Solver-2 first step)" if _corr else "1",
        paper=_paper + (" + rfbench's 3M correction (docs/dpm-solver-3m.md)" if _corr else
                        "; 3M as in the official code: order 2 (docs/dpm-solver-3m.md)" if _order == 3 else ""),
        description=_desc + " Warm-up with lower orders; lower_order_final for < 10 steps." + _ENDS,
        needs="schedule", default_grid="logsnr" if _form == "noise" else "uniform",
        plan=_multistep_plan(_name, _form, _order, _d2, _corr), plan_on_span=True,
        options={"skip_type": "logSNR" if _form == "noise" else "time_uniform", "solver_type": "midpoint",
                 "lower_order_final": True},
    ))
