"""Datasets: 2-D toy distributions generated on demand with a seed (image sets come with their issue).

>>> from rfbench.data import get_dataset
>>> x = get_dataset("8gaussians").sample(1000, seed=0)   # (1000, 2) float64
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..registry import Registry
from .toy2d import GaussianMixture, eight_gaussians, sample_8gaussians, sample_checkerboard, sample_moons


@dataclass(frozen=True)
class Dataset:
    """A named data distribution. ``sampler(n, generator)`` returns an (n, *shape) float64 tensor."""

    name: str
    shape: tuple[int, ...]
    sampler: Callable[[int, torch.Generator | None], torch.Tensor]
    description: str = ""
    mixture: GaussianMixture | None = field(default=None, compare=False)

    def sample(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return self.sampler(int(n), generator)


DATASETS: Registry[Dataset] = Registry("dataset")


def register_dataset(ds: Dataset) -> Dataset:
    return DATASETS.register(ds.name, ds)


def get_dataset(name: str) -> Dataset:
    return DATASETS.get(name)


register_dataset(Dataset("8gaussians", (2,), sample_8gaussians,
                         "8 Gaussians (std 0.2) on a circle of radius 2", mixture=eight_gaussians()))
register_dataset(Dataset("moons", (2,), sample_moons, "two moons, noise 0.05, scaled to ~[-2, 2]"))
register_dataset(Dataset("checkerboard", (2,), sample_checkerboard, "4x4 checkerboard on [-2, 2]^2"))

__all__ = ["DATASETS", "Dataset", "GaussianMixture", "eight_gaussians", "get_dataset", "register_dataset"]
