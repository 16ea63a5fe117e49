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
    # image metrics (rfbench.metrics.image_hooks; protocol columns are listed in the README)
    MetricInfo("fid", "Fréchet Inception distance: torch-fidelity inception-v3-compat pool3 2048 on uint8 images "
                      "vs a reference set's cached statistics; only with the published weights file (sha256)"),
    MetricInfo("precision", "improved precision (torch-fidelity, k = 3) on Inception features", False),
    MetricInfo("recall", "improved recall (torch-fidelity, k = 3) on Inception features", False),
    MetricInfo("fd_unverified", "the FID computation with Inception weights that are not the published file "
                                "(stand-ins, other files): never comparable to FID"),
    MetricInfo("fd_digits", "Fréchet distance in the features of rfbench's digits CNN (id and accuracy in the row) "
                            "vs the 360 held-out digits; not an Inception FID"),
    MetricInfo("lpips", "LPIPS (lpips package, AlexNet, v0.1) to the reference solution from the same noise, mean "
                        "over lpips_n samples; only with torchvision's published AlexNet weights"),
    MetricInfo("lpips_unverified", "the LPIPS computation with a stand-in / unrecognised AlexNet trunk"),
    MetricInfo("psnr", "PSNR (dB) to the reference solution from the same noise, range 2 ([-1, 1], clamped), mean "
                       "over samples", False),
]:
    METRICS.register(_m.name, _m)

__all__ = ["METRICS", "MetricInfo", "midpoint_times", "per_sample_rmse", "ref_rmse", "sliced_w2",
           "straightness_from_trajectory", "time_callable", "w2"]
