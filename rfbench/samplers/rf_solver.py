"""RF-Solver (Wang et al. 2024, arXiv 2411.04746): a second-order Taylor step for rectified flows,
and its inversion (data -> noise) as used for editing.

The step from t to t + h (h < 0 when sampling) expands the exact solution to second order,

    x(t + h) = x + h v(x, t) + h^2/2 dv/dt + O(h^3),

with the total time derivative dv/dt = d/dt v(x(t), t) estimated by a finite difference along a
half Euler step (the official code's probe; docs/rf-solver.md#the-update):

    x_mid = x + h/2 v(x, t),    dv/dt ~ (v(x_mid, t + h/2) - v(x, t)) / (h/2).

2 NFE per step, global order 2. Substituting the difference quotient gives x + h v(x_mid, t + h/2):
the explicit midpoint method. The test proves the equality to round-off; the code keeps the
paper's form. Inversion runs the same step on the ascending grid (t from t_min up to t_max).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InvalidInputError, NotApplicableError
from ..models.base import FlowModel, NFECounter
from ..models.grids import make_grid
from .plans import two_per_step_plan
from .registry import SamplerSpec, get_sampler, register_sampler


@torch.no_grad()
def sample_rf_solver(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, final_euler: bool = False,
                     callback=None) -> torch.Tensor:
    """RF-Solver-2 along ``ts`` (decreasing to sample, increasing to invert); x: (batch, *data_shape).

    ``final_euler``: the last step is a plain Euler step (1 NFE; odd NFE). The model is never
    evaluated at ts[-1], so models that cannot be evaluated at t_min need no special end step.
    """
    times = ts.tolist()
    last = len(times) - 2
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        h = t_next - t
        v = model.velocity(x, t)
        if i == last and final_euler:
            x = x + h * v
        else:
            x_mid = x + (h / 2) * v
            dv_dt = (model.velocity(x_mid, t + h / 2) - v) / (h / 2)  # finite-difference time derivative
            x = x + h * v + (h**2 / 2) * dv_dt
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


register_sampler(SamplerSpec(
    name="rf-solver", fn=sample_rf_solver, order=2, nfe_per_step="2 (odd NFE: last step Euler)",
    paper="RF-Solver-2 (Wang et al. 2024, arXiv 2411.04746); = explicit midpoint",
    description="Second-order Taylor step with a finite-difference dv/dt from a half Euler step.",
    plan=two_per_step_plan,
))

# Samplers whose update is a one-step explicit method evaluated at its stage times, so that the
# same function walked on the ascending grid is the inverse ODE solve.
INVERTIBLE = ("rf-solver", "euler", "heun")


@dataclass
class InversionResult:
    """Output of :func:`invert`: x (batch, *data_shape) at t_max, the ascending grid, counted NFE."""

    x: torch.Tensor
    ts: torch.Tensor
    nfe_measured: int
    nfe_expected: int


def invert(model: FlowModel, x_data: torch.Tensor, nfe: int, *, sampler: str = "rf-solver", grid: str = "uniform",
           grid_options: dict | None = None) -> InversionResult:
    """Map data to noise: solve the model's ODE from t_min up to t_max with ``sampler`` and ``nfe``.

    The grid is the sampler's sampling grid for this NFE, reversed, so inverting and then sampling
    with the same settings visits the same times (RF-Solver's editing protocol, docs/rf-solver.md#inversion).

    Args:
        model: a model that can be evaluated at t_min (the inversion starts there).
        x_data: (batch, *data_shape) at t_min.
        nfe: evaluations for the inversion (planned as for sampling).
        sampler: one of :data:`INVERTIBLE`.
    """
    if sampler not in INVERTIBLE:
        raise InvalidInputError(f"invert: sampler must be one of {', '.join(INVERTIBLE)}, got {sampler!r}")
    if not model.eval_at_t_min:
        raise NotApplicableError(f"model {model.name!r} cannot be evaluated at t_min, where an inversion starts")
    spec = get_sampler(sampler)
    plan = spec.make_plan(nfe, model, {})
    ts = make_grid(grid, plan.steps, model, **(grid_options or {})).flip(0)
    with NFECounter(model) as counter:
        x = spec.fn(model, x_data, ts, **plan.kwargs)
    return InversionResult(x=x, ts=ts, nfe_measured=counter.count, nfe_expected=plan.expected_nfe)
