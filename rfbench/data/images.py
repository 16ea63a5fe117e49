"""Image data available offline: scikit-learn's bundled 8x8 handwritten digits, and loaders for users'
own images (a folder of image files, an .npz array, CIFAR-10's python-pickle release from a local path).

``digits(split)`` returns float32 images of shape (n, 1, 8, 8) scaled to [-1, 1] (pixel values 0..16
map linearly to -1..1), with their labels. The split is fixed and documented: the 1,797 images are
permuted with ``numpy.random.RandomState(0)``; the first 1,437 (80 %) are "train", the last 360 "test".
Models train on "train"; held-out metrics (Fréchet distance, classifier accuracy) use "test".
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path

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


# -- users' image data ---------------------------------------------------------------------------
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILES = ("test_batch",)
# md5 of the official python release's batches (cifar-10-python.tar.gz, as published with the data set)
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
}


def _to_unit_range(images: np.ndarray, source: str) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1]; float arrays must already lie in [-1, 1] (or [0, 1])."""
    if images.dtype == np.uint8:
        return torch.from_numpy(images.astype(np.float32)) / 127.5 - 1.0
    if not np.issubdtype(images.dtype, np.floating):
        raise InvalidInputError(f"{source}: expected uint8 (0..255) or float images, got dtype {images.dtype}")
    lo, hi = float(np.min(images)), float(np.max(images))
    if lo >= 0.0 and hi <= 1.0:
        return torch.from_numpy(images.astype(np.float32)) * 2.0 - 1.0
    if lo >= -1.0 and hi <= 1.0:
        return torch.from_numpy(images.astype(np.float32))
    raise InvalidInputError(f"{source}: float images must lie in [0, 1] or [-1, 1], found values in [{lo:.3g}, {hi:.3g}]")


def load_image_folder(path: str | Path, *, mode: str | None = None) -> torch.Tensor:
    """All images in a folder (sorted by name, not recursive) as (n, C, H, W) float32 in [-1, 1].

    Every image must have the size and mode of the first (``mode`` forces one, e.g. "L" or "RGB").
    A file that cannot be decoded raises :class:`InvalidInputError` naming it.
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InvalidInputError(f"image folder {folder} does not exist or is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInputError(f"image folder {folder} holds no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    arrays = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                mode = mode or ("L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB")
                arr = np.asarray(im.convert(mode))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InvalidInputError(f"image file {f} could not be read as an image ({type(exc).__name__}: {exc})") from None
        if arrays and arr.shape != arrays[0].shape:
            raise InvalidInputError(f"image file {f} has shape {arr.shape}, but {files[0].name} has {arrays[0].shape}; "
                                    "all images of a folder must have one size")
        arrays.append(arr)
    stack = np.stack(arrays)
    if stack.ndim == 3:
        stack = stack[:, None]
    else:
        stack = stack.transpose(0, 3, 1, 2)
    return _to_unit_range(np.ascontiguousarray(stack), f"image folder {folder}")


def load_npz(path: str | Path, *, key: str | None = None, channels_last: bool | None = None) -> torch.Tensor:
    """Images from an .npz array as (n, C, H, W) float32 in [-1, 1].

    ``key``: the array to use (default: the only array, or "images", "x" or "arr_0"). The array must be
    (n, H, W), (n, C, H, W) or (n, H, W, C) with C in {1, 3, 4} (channels-last is detected, or forced
    with ``channels_last``); uint8 0..255 or float in [0, 1] / [-1, 1].
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidInputError(f"npz file {file} does not exist")
    try:
        archive = np.load(file, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the user's file
        raise InvalidInputError(f"npz file {file} could not be read ({type(exc).__name__}: {exc})") from None
    with archive:
        names = list(archive.files)
        if not names:
            raise InvalidInputError(f"npz file {file} holds no arrays; expected an image array (n, H, W), (n, C, H, W) "
                                    "or (n, H, W, C)")
        if key is None:
            key = names[0] if len(names) == 1 else next((k for k in ("images", "x", "arr_0") if k in names), None)
            if key is None:
                raise InvalidInputError(f"npz file {file} holds arrays {names}; pass key= to choose one")
        if key not in names:
            raise InvalidInputError(f"npz file {file} has no array {key!r}; it holds {names}")
        try:
            arr = archive[key]
        except ValueError as exc:  # an object array: reading it would need pickle, which can run code
            raise InvalidInputError(f"npz file {file} (array {key!r}) could not be read ({exc}); expected a numeric "
                                    "image array (uint8 or float)") from None
    src = f"npz file {file} (array {key!r})"
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        last = arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4)
        if channels_last or (channels_last is None and last):
            arr = arr.transpose(0, 3, 1, 2)
        if arr.shape[1] not in (1, 3, 4):
            raise InvalidInputError(f"{src} has shape {tuple(arr.shape)}; expected 1, 3 or 4 channels")
    else:
        raise InvalidInputError(f"{src} has shape {tuple(arr.shape)}; expected (n, H, W), (n, C, H, W) or (n, H, W, C)")
    if arr.shape[0] < 1:
        raise InvalidInputError(f"{src} is empty")
    return _to_unit_range(np.ascontiguousarray(arr), src)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The CIFAR-10 batches are pickles of dicts of numpy arrays: allow exactly that, nothing that
    could run code (any other global is refused)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are expected)")
        return super().find_class(module, name)


def cifar10_folder(path: str | Path, split: str = "train") -> Path:
    """The ``cifar-10-batches-py`` folder at or under ``path``; one-line error naming the missing files."""
    if split not in ("train", "test"):
        raise InvalidInputError(f"CIFAR-10 split must be 'train' or 'test', got {split!r}")
    folder = Path(path).expanduser()
    if folder.is_dir() and (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    names = CIFAR10_TRAIN_FILES if split == "train" else CIFAR10_TEST_FILES
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise InvalidInputError(
            f"CIFAR-10 folder {folder} lacks {', '.join(missing)}; expected the python-pickle release "
            f"(cifar-10-python.tar.gz, unpacked: cifar-10-batches-py/ with {', '.join(CIFAR10_TRAIN_FILES)}, test_batch)")
    return folder


def cifar10_identity(path: str | Path, split: str = "train") -> str:
    """Checks every batch of ``split`` against the official md5 and returns the identity string FID
    reference caches key on (``cifar-10-python train md5 c99cafc1,...``); InvalidInputError naming a
    file that differs."""
    folder = cifar10_folder(path, split)
    names = CIFAR10_TRAIN_FILES if split == "train" else CIFAR10_TEST_FILES
    for name in names:
        with open(folder / name, "rb") as fh:
            digest = hashlib.md5(fh.read()).hexdigest()  # the release publishes md5 sums
        if digest != CIFAR10_MD5[name]:
            raise InvalidInputError(f"CIFAR-10 file {folder / name} has md5 {digest}, expected {CIFAR10_MD5[name]} "
                                    "(corrupt or not the official python version)")
    return f"cifar-10-python {split} md5 " + ",".join(CIFAR10_MD5[n][:8] for n in names)


def load_cifar10(path: str | Path, split: str = "train", *, uint8: bool = False,
                 verify_md5: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 from its standard python-pickle release (the folder ``cifar-10-batches-py``), read
    with an unpickler that accepts numpy arrays only (nothing in the files can run code).

    Returns (images (n, 3, 32, 32), labels (n,) int64): float32 in [-1, 1], or the stored uint8
    0..255 with ``uint8``. "train" is data_batch_1..5 (50,000 images), "test" is test_batch (10,000).
    ``verify_md5``: check the files against the official release first (:func:`cifar10_identity`).
    Nothing is downloaded.
    """
    folder = cifar10_folder(path, split)
    if verify_md5:
        cifar10_identity(folder, split)
    names = CIFAR10_TRAIN_FILES if split == "train" else CIFAR10_TEST_FILES
    images, labels = [], []
    for n in names:
        with open(folder / n, "rb") as fh:
            try:
                batch = _NumpyOnlyUnpickler(fh, encoding="bytes").load()
                # the release was pickled by Python 2: its str keys read as bytes; a re-pickled copy has str keys
                get = lambda k: batch[k.encode()] if k.encode() in batch else batch[k]  # noqa: E731
                data = np.asarray(get("data"), dtype=np.uint8).reshape(-1, 3, 32, 32)
                lab = np.asarray(get("labels"), dtype=np.int64)
            except Exception as exc:  # noqa: BLE001
                raise InvalidInputError(f"CIFAR-10 file {folder / n} is not a CIFAR-10 python batch "
                                        f"({type(exc).__name__}: {exc})") from None
        images.append(data)
        labels.append(lab)
    stacked = np.ascontiguousarray(np.concatenate(images))
    out = torch.from_numpy(stacked) if uint8 else _to_unit_range(stacked, f"CIFAR-10 {folder}")
    return out, torch.from_numpy(np.concatenate(labels))


def detect_kind(path: str | Path) -> str:
    """"npz" for an .npz file, "cifar10" for a folder with CIFAR-10 batch files, else "folder"."""
    p = Path(path).expanduser()
    if p.suffix == ".npz":
        return "npz"
    if p.is_dir() and ((p / "data_batch_1").exists() or (p / "cifar-10-batches-py").is_dir()):
        return "cifar10"
    return "folder"


def load_images(path: str | Path, *, kind: str = "auto", **options) -> torch.Tensor:
    """(n, C, H, W) float32 in [-1, 1] from a folder of images, an .npz file or a CIFAR-10 folder
    (``kind``: "folder", "npz", "cifar10" or "auto", see :func:`detect_kind`)."""
    kind = detect_kind(path) if kind == "auto" else kind
    if kind == "npz":
        return load_npz(path, **options)
    if kind == "cifar10":
        return load_cifar10(path, **options)[0]
    if kind == "folder":
        return load_image_folder(path, **options)
    raise InvalidInputError(f"image data kind must be 'auto', 'folder', 'npz' or 'cifar10', got {kind!r}")
