"""Metrics rfbench reports. ``METRICS`` documents every result column (``rfbench list metrics``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry
from .distribution import sliced_w2, w2
from .solver_error import per_sample_rmse, ref_rmse
from .straightness import midpoint_times, straightness_from_trajectory
from .timing import time_callable


@dataclass(frozen=True)
class MetricInfo:
    name: str
    description: str
    lower_is_better: bool = True


METRICS: Registry[MetricInfo] = Registry("metric")
for _m in [
    MetricInfo("ref_rmse", "solver error: per-sample RMSE to the reference (dopri5, float64) endpoint from "
                           "the same noise, averaged over samples"),
    MetricInfo("w2", "exact Wasserstein-2 distance (POT) between samples and held-out data (>= 2000 points)"),
    MetricInfo("sw2", "sliced Wasserstein-2 distance to held-out data (512 projections)"),
    MetricInfo("straightness", "Liu et al. 2022 straightness of the model's flow on reference trajectories "
                               "(midpoint rule, 64 points, mean over dimensions); a property of the model"),
    MetricInfo("wall_clock_s", "sampling time for the whole batch: median over repeats after warm-up, "
                               "device-synchronised (CUDA events on GPU)"),
    MetricInfo("nfe_measured", "main-network evaluations counted during sampling (a batched call is one)"),
]:
    METRICS.register(_m.name, _m)

__all__ = ["METRICS", "MetricInfo", "midpoint_times", "per_sample_rmse", "ref_rmse", "sliced_w2",
           "straightness_from_trajectory", "time_callable", "w2"]
