"""Datasets: 2-D toy distributions generated on demand with a seed, and finite image sets.

>>> from rfbench.data import get_dataset
>>> x = get_dataset("8gaussians").sample(1000, seed=0)   # (1000, 2) float64
>>> get_dataset("digits").train_set().shape               # (1437, 1, 8, 8) float32 in [-1, 1]

A generated dataset trains on fresh draws; a finite one (``train_set`` set) trains on its fixed
training split, and ``sample`` draws from its held-out split where it has one. Users add their own
images with :func:`register_image_dataset` (a folder of images, an .npz array or CIFAR-10).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import InvalidInputError
from ..registry import Registry
from .images import detect_kind, digits, load_cifar10, load_image_folder, load_images, load_npz
from .toy2d import GaussianMixture, eight_gaussians, sample_8gaussians, sample_checkerboard, sample_moons


@dataclass(frozen=True)
class Dataset:
    """A named data distribution. ``sampler(n, generator)`` returns an (n, *shape) float64 tensor."""

    name: str
    shape: tuple[int, ...]
    sampler: Callable[[int, torch.Generator | None], torch.Tensor]
    description: str = ""
    mixture: GaussianMixture | None = field(default=None, compare=False)
    train_set: Callable[[], torch.Tensor] | None = field(default=None, compare=False)
    source: str | None = None  # where a user dataset was read from

    @property
    def finite(self) -> bool:
        return self.train_set is not None

    def sample(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return self.sampler(int(n), generator)


DATASETS: Registry[Dataset] = Registry("dataset")


def register_dataset(ds: Dataset) -> Dataset:
    return DATASETS.register(ds.name, ds)


def get_dataset(name: str) -> Dataset:
    return DATASETS.get(name)


def _finite(images: Callable[[], torch.Tensor]):
    def sampler(n: int, generator: torch.Generator | None) -> torch.Tensor:
        pool = images()
        return pool[torch.randint(0, len(pool), (n,), generator=generator)].to(torch.float64)
    return sampler


def register_image_dataset(name: str, path: str | Path, *, kind: str = "auto", replace: bool = False,
                           **options) -> Dataset:
    """Register a user's images (folder, .npz or CIFAR-10 folder; see :func:`load_images`) as ``name``.

    The images are read once here (errors name the bad file) and kept in memory; models train on all
    of them, and ``sample`` draws from them (CIFAR-10: from its test split).
    """
    kind = detect_kind(path) if kind == "auto" else kind
    images = load_images(path, kind=kind, **options)
    heldout = load_cifar10(path, split="test")[0] if kind == "cifar10" else images
    ds = Dataset(name, tuple(images.shape[1:]), _finite(lambda: heldout),
                 f"user images from {path} ({len(images)} images)", train_set=lambda: images, source=str(path))
    if name in DATASETS and not replace:
        raise InvalidInputError(f"dataset {name!r} is already registered; pass replace=True to replace it")
    return DATASETS.register(name, ds, replace=replace)


register_dataset(Dataset("8gaussians", (2,), sample_8gaussians,
                         "8 Gaussians (std 0.2) on a circle of radius 2", mixture=eight_gaussians()))
register_dataset(Dataset("moons", (2,), sample_moons, "two moons, noise 0.05, scaled to ~[-2, 2]"))
register_dataset(Dataset("checkerboard", (2,), sample_checkerboard, "4x4 checkerboard on [-2, 2]^2"))
register_dataset(Dataset("digits", (1, 8, 8), _finite(lambda: digits("test")[0]),
                         "scikit-learn's 8x8 digits in [-1, 1]: trains on the fixed 1,437-image train split, "
                         "samples from the 360-image test split", train_set=lambda: digits("train")[0]))

__all__ = ["DATASETS", "Dataset", "GaussianMixture", "digits", "eight_gaussians", "get_dataset", "load_cifar10",
           "load_image_folder", "load_images", "load_npz", "register_dataset", "register_image_dataset"]
