"""2-D toy distributions generated on demand from a seed.

Each dataset is a callable ``sample(n, generator) -> (n, 2) float64 tensor``. ``8gaussians`` is an
exact :class:`GaussianMixture`, the same mixture the analytic models use, so a trained model on it
and the analytic oracle target one distribution.
"""

from __future__ import annotations

import math

import torch


class GaussianMixture:
    """Isotropic Gaussian mixture: weights (K,), means (K, d), stds (K,)."""

    def __init__(self, weights, means, stds):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = torch.as_tensor(means, dtype=torch.float64)
        self.stds = torch.as_tensor(stds, dtype=torch.float64)
        K, d = self.means.shape
        if self.weights.shape != (K,) or self.stds.shape != (K,):
            raise ValueError("weights and stds must have one entry per mean")
        if (self.weights < 0).any() or not torch.isclose(self.weights.sum(), torch.tensor(1.0, dtype=torch.float64)):
            raise ValueError("mixture weights must be non-negative and sum to 1")
        self.dim = d

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn((n, self.dim), generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k, None] * z

    def config(self) -> dict:
        return {
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "stds": self.stds.tolist(),
        }


def eight_gaussians(radius: float = 2.0, std: float = 0.2) -> GaussianMixture:
    """Eight equal-weight Gaussians on a circle of the given radius."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture(torch.full((8,), 1 / 8), means, torch.full((8,), std))


def sample_8gaussians(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return eight_gaussians().sample(n, generator)


def sample_moons(n: int, generator: torch.Generator | None = None, noise: float = 0.05) -> torch.Tensor:
    """Two interleaving half circles (as scikit-learn's make_moons), centred and scaled to ~[-2, 2]."""
    upper = torch.rand(n, generator=generator, dtype=torch.float64) < 0.5
    theta = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    x = torch.where(upper, torch.cos(theta), 1 - torch.cos(theta))
    y = torch.where(upper, torch.sin(theta), 0.5 - torch.sin(theta))
    pts = torch.stack([x, y], dim=1) + noise * torch.randn((n, 2), generator=generator, dtype=torch.float64)
    return 2.0 * (pts - torch.tensor([0.5, 0.25], dtype=torch.float64))


def sample_checkerboard(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform on the 8 dark squares of a 4x4 checkerboard covering [-2, 2]^2."""
    cells = torch.tensor([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0], dtype=torch.float64)
    k = torch.randint(0, len(cells), (n,), generator=generator)
    u = torch.rand((n, 2), generator=generator, dtype=torch.float64)
    return cells[k] + u - 2.0
