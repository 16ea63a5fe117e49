"""Distribution distances for low-dimensional samples: exact W2 (POT) and sliced W2."""

from __future__ import annotations

import numpy as np
import torch

# below ~1000 points the sampling noise of empirical W2 (reported as w2_floor) swamps sampler differences
MIN_POINTS_W2 = 1000


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float64).flatten(1).numpy()


def w2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exact Wasserstein-2 distance between two empirical distributions with uniform weights.

    Solved as an optimal-transport linear programme (POT's network simplex) on the squared
    Euclidean cost; returns sqrt of the optimal cost. O(n^3): meant for a few thousand points.
    """
    import ot

    a, b = _np(x), _np(y)
    cost = ot.dist(a, b, metric="sqeuclidean")
    wa = np.full(len(a), 1.0 / len(a))
    wb = np.full(len(b), 1.0 / len(b))
    val = ot.emd2(wa, wb, cost, numItermax=10_000_000)
    return float(np.sqrt(max(val, 0.0)))


def sliced_w2(x: torch.Tensor, y: torch.Tensor, n_projections: int = 512, seed: int = 0) -> float:
    """Sliced Wasserstein-2 distance (Monte Carlo over ``n_projections`` fixed random directions)."""
    import ot

    return float(ot.sliced_wasserstein_distance(_np(x), _np(y), n_projections=n_projections, p=2, seed=seed))
