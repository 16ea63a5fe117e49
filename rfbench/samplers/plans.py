"""NFE plans shared by several samplers: how many steps a requested NFE buys, and the keyword
arguments that tell the update rule how to spend them."""

from __future__ import annotations

import math

import torch

from ..models.base import FlowModel
from .registry import Plan


def heun_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    # ceil(nfe / 2) steps; an odd NFE makes the last step Euler (2 s - 1 evaluations). A model that
    # cannot be evaluated at t_min always ends with Euler, so an even NFE is rounded down to nfe - 1.
    return _heun_plan(nfe, model, euler_into_zero_sigma=False)


def edm_heun_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    # EDM's Algorithm 1 also takes the last step as Euler where it reaches sigma = 0, on a model that
    # could be evaluated there (the PFGM++ oracle on a density, a flow model with t_max < 1)
    return _heun_plan(nfe, model, euler_into_zero_sigma=True)


def _heun_plan(nfe: int, model: FlowModel, *, euler_into_zero_sigma: bool) -> Plan:
    steps = math.ceil(nfe / 2)
    final_euler = nfe % 2 == 1
    zero_sigma = euler_into_zero_sigma and model.schedule is not None and float(model.schedule.sigma(
        torch.tensor(model.t_min, dtype=torch.float64))) == 0.0
    expected = 2 * steps - (1 if final_euler or not model.eval_at_t_min or zero_sigma else 0)
    info = {}
    if expected != nfe:
        why = "reaches sigma = 0 at t_min" if model.eval_at_t_min else "cannot be evaluated at t_min"
        info["nfe_note"] = f"{model.name} {why}: Heun's last step is Euler, NFE {nfe} -> {expected}"
    return Plan(steps=steps, expected_nfe=expected, kwargs={"final_euler": final_euler}, info=info)


def two_per_step_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    """ceil(nfe / 2) steps of 2 NFE; an odd NFE makes the last step Euler (as Heun in rfbench)."""
    return Plan(steps=math.ceil(nfe / 2), expected_nfe=nfe, kwargs={"final_euler": nfe % 2 == 1})
