"""Baseline fixed-step samplers: Euler and Heun, walking any grid in rfbench time.

Each takes ``(model, x, ts)`` with ``ts`` a decreasing grid from t_max to t_min and returns the
state at ts[-1]. ``callback(info)`` is called after every step with a dict of i, t, t_next, x.
"""

from __future__ import annotations

import torch

from ..models.base import FlowModel
from ..models.ode import integrate_fixed
from .plans import heun_plan
from .registry import SamplerSpec, register_sampler


@torch.no_grad()
def sample_euler(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """Euler's method: x_{i+1} = x_i + (t_{i+1} - t_i) v(x_i, t_i). Order 1, 1 NFE per step."""
    return integrate_fixed(model, x, ts, "euler", callback=callback)


@torch.no_grad()
def sample_heun(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, final_euler: bool = False,
                callback=None) -> torch.Tensor:
    """Heun's method (explicit trapezoidal rule, Karras et al. 2022 Alg. 1 without churn).

    d = v(x_i, t_i); x' = x_i + h d; x_{i+1} = x_i + h/2 (d + v(x', t_{i+1})). Order 2, 2 NFE per
    step. The last step is a plain Euler step (1 NFE) when ``final_euler`` is set (odd NFE) or the
    model cannot be evaluated at t_min (EDM's convention for sigma = 0).
    """
    return integrate_fixed(model, x, ts, "heun", final_euler=final_euler, callback=callback)


register_sampler(SamplerSpec(
    name="euler", fn=sample_euler, order=1, nfe_per_step="1",
    paper="Euler's method; the RF paper's N-step sampler (Liu et al. 2022, arXiv 2209.03003)",
    description="Explicit Euler on a uniform grid in t.",
))
register_sampler(SamplerSpec(
    name="heun", fn=sample_heun, order=2, nfe_per_step="2 (odd NFE: last step Euler)",
    paper="Heun's 2nd-order method (Karras et al. 2022, arXiv 2206.00364, Alg. 1)",
    description="Explicit trapezoidal predictor-corrector on a uniform grid in t.",
    plan=heun_plan,
))
