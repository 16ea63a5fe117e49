"""Straightness of a flow (Liu et al. 2022, arXiv 2209.03003, eq. 7), on reference trajectories.

    S = int_0^1 E || (X_1 - X_0) - dX_s/ds ||^2 ds,

with s in [0, 1] the normalised time from noise (s = 0, t = t_max) to data (s = 1, t = t_min), so
dX/ds = -(t_max - t_min) v(x, t). S = 0 iff every trajectory is a straight line at constant speed.
rfbench estimates it with the midpoint rule on K points of the reference (dopri5) trajectories and
averages the squared norm over dimensions (as rfpp's ``utils.straightness``; the paper sums over
dimensions: multiply by the dimension to compare). Report K with the value.
"""

from __future__ import annotations

import torch

from ..models.base import FlowModel

DEFAULT_POINTS = 64


def midpoint_times(model: FlowModel, k: int = DEFAULT_POINTS) -> torch.Tensor:
    """K midpoint times of a uniform split of [t_min, t_max], decreasing."""
    i = torch.arange(k, dtype=torch.float64)
    return model.t_max - (i + 0.5) / k * (model.t_max - model.t_min)


@torch.no_grad()
def straightness_from_trajectory(model: FlowModel, times: torch.Tensor, states: torch.Tensor,
                                 x_start: torch.Tensor, x_end: torch.Tensor) -> float:
    """S from states (T, batch, ...) at the midpoint ``times`` (T,) and the trajectories' endpoints."""
    disp = (x_end - x_start).flatten(1)
    span = model.t_max - model.t_min
    total = 0.0
    for t, x in zip(times.tolist(), states):
        dx_ds = -span * model.velocity(x, t).flatten(1)
        total += float((disp - dx_ds).pow(2).mean())
    return total / len(times)
