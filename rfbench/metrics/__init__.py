"""Metrics rfbench reports: pure metric functions, and the one metric registry (:mod:`.registry`:
``METRICS`` documents every result column; ``rfbench list metrics``). How the sweep computes each metric
for a cell lives in :mod:`rfbench.runner.cell_metrics`."""

from __future__ import annotations

from .distribution import sliced_w2, w2
from .registry import METRICS, Metric, get_metric, register_metric
from .solver_error import per_sample_rmse, ref_rmse
from .straightness import midpoint_times, straightness_from_trajectory
from .timing import time_callable

__all__ = ["METRICS", "Metric", "get_metric", "midpoint_times", "per_sample_rmse", "ref_rmse", "register_metric",
           "sliced_w2", "straightness_from_trajectory", "time_callable", "w2"]
