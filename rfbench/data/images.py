"""Image data available offline: scikit-learn's bundled 8x8 handwritten digits.

``digits(split)`` returns float32 images of shape (n, 1, 8, 8) scaled to [-1, 1] (pixel values 0..16
map linearly to -1..1), with their labels. The split is fixed and documented: the 1,797 images are
permuted with ``numpy.random.RandomState(0)``; the first 1,437 (80 %) are "train", the last 360 "test".
Models train on "train"; held-out metrics (Fréchet distance, classifier accuracy) use "test".
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..errors import InvalidInputError

DIGITS_SPLITS = ("train", "test", "all")
N_TRAIN_DIGITS = 1437


@functools.lru_cache(maxsize=1)
def _digits_all() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.RandomState(0).permutation(len(bunch.images))
    images = torch.from_numpy(bunch.images[order].astype(np.float32)) / 8.0 - 1.0
    return images[:, None], torch.from_numpy(bunch.target[order].astype(np.int64))


def digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images (n, 1, 8, 8) float32 in [-1, 1], labels (n,) int64) of the fixed ``split``."""
    if split not in DIGITS_SPLITS:
        raise InvalidInputError(f"digits split must be one of {DIGITS_SPLITS}, got {split!r}")
    images, labels = _digits_all()
    if split == "train":
        return images[:N_TRAIN_DIGITS].clone(), labels[:N_TRAIN_DIGITS].clone()
    if split == "test":
        return images[N_TRAIN_DIGITS:].clone(), labels[N_TRAIN_DIGITS:].clone()
    return images.clone(), labels.clone()
