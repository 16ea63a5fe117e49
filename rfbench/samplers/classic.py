"""Baseline fixed-step samplers: Euler and Heun, walking any grid in rfbench time.

Each takes ``(model, x, ts)`` with ``ts`` a decreasing grid from t_max to t_min and returns the
state at ts[-1]. ``callback(info)`` is called after every step with a dict of i, t, t_next, x.
"""

from __future__ import annotations

import math

import torch

from ..models.base import FlowModel
from .registry import Plan, SamplerSpec, register_sampler


def _skip_last_eval(model: FlowModel, t_next: float) -> bool:
    """True where the model cannot be evaluated at t_next (t_min of an EDM / PFGM++ denoiser)."""
    return t_next == model.t_min and not model.eval_at_t_min


@torch.no_grad()
def sample_euler(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """Euler's method: x_{i+1} = x_i + (t_{i+1} - t_i) v(x_i, t_i). Order 1, 1 NFE per step."""
    times = ts.tolist()
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        x = x + (t_next - t) * model.velocity(x, t)
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


@torch.no_grad()
def sample_heun(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, final_euler: bool = False,
                callback=None) -> torch.Tensor:
    """Heun's method (explicit trapezoidal rule, Karras et al. 2022 Alg. 1 without churn).

    d = v(x_i, t_i); x' = x_i + h d; x_{i+1} = x_i + h/2 (d + v(x', t_{i+1})). Order 2, 2 NFE per
    step. The last step is a plain Euler step (1 NFE) when ``final_euler`` is set (odd NFE) or the
    model cannot be evaluated at t_min (EDM's convention for sigma = 0).
    """
    times = ts.tolist()
    last = len(times) - 2
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        h = t_next - t
        d = model.velocity(x, t)
        x_pred = x + h * d
        if i == last and (final_euler or _skip_last_eval(model, t_next)):
            x = x_pred
        else:
            x = x + (h / 2) * (d + model.velocity(x_pred, t_next))
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


def _heun_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    # ceil(nfe / 2) steps; an odd NFE makes the last step Euler (2 s - 1 evaluations). A model that
    # cannot be evaluated at t_min always ends with Euler, so an even NFE is rounded down to nfe - 1.
    steps = math.ceil(nfe / 2)
    final_euler = nfe % 2 == 1
    expected = 2 * steps - (1 if final_euler or not model.eval_at_t_min else 0)
    info = {}
    if expected != nfe:
        info["nfe_note"] = f"{model.name} cannot be evaluated at t_min: Heun's last step is Euler, NFE {nfe} -> {expected}"
    return Plan(steps=steps, expected_nfe=expected, kwargs={"final_euler": final_euler}, info=info)


register_sampler(SamplerSpec(
    name="euler", fn=sample_euler, order=1, nfe_per_step="1",
    paper="Euler's method; the RF paper's N-step sampler (Liu et al. 2022, arXiv 2209.03003)",
    description="Explicit Euler on a uniform grid in t.",
))
register_sampler(SamplerSpec(
    name="heun", fn=sample_heun, order=2, nfe_per_step="2 (odd NFE: last step Euler)",
    paper="Heun's 2nd-order method (Karras et al. 2022, arXiv 2206.00364, Alg. 1)",
    description="Explicit trapezoidal predictor-corrector on a uniform grid in t.",
    plan=_heun_plan,
))
