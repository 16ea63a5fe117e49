"""Solver error against the reference solution from the same noise."""

from __future__ import annotations

import torch


def per_sample_rmse(x: torch.Tensor, x_ref: torch.Tensor) -> torch.Tensor:
    """RMSE over all but the batch dimension, per sample: shape (batch,), float64."""
    if x.shape != x_ref.shape:
        raise ValueError(f"samples {tuple(x.shape)} and reference {tuple(x_ref.shape)} differ in shape")
    diff = x.to(torch.float64) - x_ref.to(torch.float64).to(x.device)
    return diff.flatten(1).pow(2).mean(1).sqrt()


def ref_rmse(x: torch.Tensor, x_ref: torch.Tensor) -> float:
    """Solver error: per-sample RMSE between a sampler's endpoints and the reference endpoints
    (same noise), averaged over samples. In data units ([-1, 1] for images)."""
    return float(per_sample_rmse(x, x_ref).mean())
