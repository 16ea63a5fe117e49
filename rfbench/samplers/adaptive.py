"""The ``dopri5`` sampler: an adaptive Dormand-Prince solve (:mod:`rfbench.models.ode`, where the
reference solution lives too), from ts[0] to t_min.
"""

from __future__ import annotations

import torch

from ..models.base import FlowModel
from ..models.ode import (REFERENCE_ATOL, REFERENCE_RTOL, ReferenceSolution, finish_at_t_min, ode_end,  # noqa: F401
                          reference_solution, solve_ode)
from .registry import Plan, SamplerSpec, register_sampler


@torch.no_grad()
def sample_adaptive(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, rtol: float = 1e-5,
                    atol: float = 1e-5, method: str = "dopri5") -> torch.Tensor:
    """Adaptive Dormand-Prince solve from ts[0] to ts[-1] (interior grid points are ignored)."""
    end = ode_end(model)
    x = solve_ode(model, x, [float(ts[0]), end], rtol=rtol, atol=atol, method=method)[-1]
    return finish_at_t_min(model, x, end)


def _adaptive_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    return Plan(steps=1, expected_nfe=None,
                info={"rtol": options.get("rtol", 1e-5), "atol": options.get("atol", 1e-5)})


register_sampler(SamplerSpec(
    name="dopri5", fn=sample_adaptive, order=5, nfe_per_step="adaptive (6 per attempted step + 2)",
    paper="Dormand & Prince 1980 via torchdiffeq; the RF paper's 'RK45, tol 1e-5' protocol",
    description="Adaptive Dormand-Prince 5(4), rtol = atol = 1e-5 by default; NFE measured.",
    plan=_adaptive_plan, adaptive=True, options={"rtol": 1e-5, "atol": 1e-5},
))


def model_in_dtype(model: FlowModel, dtype: torch.dtype) -> FlowModel:
    """``model.in_dtype(dtype)`` (the former helper's name, kept for scripts)."""
    return model.in_dtype(dtype)


__all__ = ["REFERENCE_ATOL", "REFERENCE_RTOL", "ReferenceSolution", "model_in_dtype", "reference_solution",
           "sample_adaptive", "solve_ode"]
