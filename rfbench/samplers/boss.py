"""BOSS's sampler (Nguyen, Nguyen & Nguyen 2023, arXiv 2312.16414): Euler on the Bellman-optimal grid
``bellman``, which the calibration of :mod:`rfbench.training.boss` computes per model (stage 1; see
there for the method, the cache and what the rows report). A model fine-tuned by stage 2
(``1-rf+boss``) carries its own grid for its N, which the plan uses as is.
"""

from __future__ import annotations

import torch

from ..models.base import FlowModel
from ..models.grids import register_grid
from ..models.ode import integrate_fixed
from ..training.boss import CALIB_OPTIONS, calibrate, calibration_options
from .registry import Plan, SamplerSpec, register_sampler


@register_grid("bellman")
def grid_bellman(n_steps: int, model: FlowModel, **options) -> torch.Tensor:
    """BOSS's Bellman-optimal grid for n_steps Euler steps (options: K, M, calib_seed, base_grid)."""
    calib = calibrate(model, **calibration_options(options))
    return calib.ts[calib.solve(n_steps)[0]]


@torch.no_grad()
def sample_boss(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """Euler on the Bellman grid ``ts`` (the plan computes it from the calibration options)."""
    return integrate_fixed(model, x, ts, "euler", callback=callback)


def _boss_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    opts = calibration_options(options)
    own = getattr(model, "boss_grid", None)
    if own is not None and getattr(model, "boss_nfe", None) == nfe:
        # a redressed model was fine-tuned for this grid (stage 1 on its base model)
        return Plan(steps=nfe, expected_nfe=nfe, ts=own, info=dict(model.boss_info))
    calib = calibrate(model, **opts)
    nodes, total = calib.solve(nfe)
    info = {"calib_s": calib.seconds, "calib_cached": calib.cache_hit, "boss_K": opts["K"], "boss_M": opts["M"],
            "boss_cost": total, "boss_nodes": ",".join(map(str, nodes))}
    return Plan(steps=nfe, expected_nfe=nfe, ts=calib.ts[nodes], info=info)


register_sampler(SamplerSpec(
    name="boss", fn=sample_boss, order=1, nfe_per_step="1",
    paper="BOSS, Bellman Optimal Step-size Straightening (Nguyen et al. 2023, arXiv 2312.16414), stage 1",
    description="Euler on the grid chosen by dynamic programming over a K = 100 fine grid (calibration cached).",
    default_grid="bellman", plan=_boss_plan, options=dict(CALIB_OPTIONS),
))
