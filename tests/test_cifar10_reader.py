"""The one CIFAR-10 reader (data.images.load_cifar10, numpy-only unpickler) gives the cifar10 suite the
same uint8 images torchvision's CIFAR10 reader gave it, and checks the release's md5 sums."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from rfbench.data.images import CIFAR10_MD5, cifar10_identity, load_cifar10
from rfbench.errors import InvalidInputError, MissingResourceError


def _fake_release(folder, n=5):
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batch = {"data": rng.randint(0, 256, size=(n, 3072), dtype=np.uint8), "labels": list(range(i, i + n))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    return folder


def test_same_uint8_images_as_torchvision(tmp_path, monkeypatch):
    tv = pytest.importorskip("torchvision.datasets")
    _fake_release(tmp_path / "cifar-10-batches-py")
    monkeypatch.setattr(tv.CIFAR10, "_check_integrity", lambda self: True)  # synthetic files: no official md5
    monkeypatch.setattr(tv.CIFAR10, "_load_meta", lambda self: None)
    theirs = torch.from_numpy(tv.CIFAR10(str(tmp_path), train=True, download=False).data).permute(0, 3, 1, 2)
    ours, labels = load_cifar10(tmp_path, "train", uint8=True)
    assert ours.dtype == torch.uint8 and torch.equal(ours, theirs.contiguous())
    floats, _ = load_cifar10(tmp_path, "train")
    assert torch.equal(floats, ours.float() / 127.5 - 1.0)
    assert labels.tolist()[:5] == [0, 1, 2, 3, 4]


def test_md5_is_checked_and_names_the_file(tmp_path, monkeypatch):
    folder = _fake_release(tmp_path / "cifar-10-batches-py")
    with pytest.raises(InvalidInputError, match=r"data_batch_1 has md5 .* expected c99cafc1"):
        load_cifar10(tmp_path, verify_md5=True)
    import hashlib

    real = {n: hashlib.md5((folder / n).read_bytes()).hexdigest() for n in CIFAR10_MD5}
    monkeypatch.setattr("rfbench.data.images.CIFAR10_MD5", real)
    assert cifar10_identity(tmp_path) == "cifar-10-python train md5 " + ",".join(
        real[f"data_batch_{k}"][:8] for k in range(1, 6))
    # the suite's FID reference reads the same images and reports a bad file as a missing resource
    from rfbench.suites import cifar10 as suite

    assert torch.equal(suite._cifar10_train({"cifar10_root": str(tmp_path)}), load_cifar10(tmp_path, uint8=True)[0])
    monkeypatch.undo()
    with pytest.raises(MissingResourceError, match="CIFAR-10 data: .*md5"):
        suite._cifar10_identity({"cifar10_root": str(tmp_path)})
