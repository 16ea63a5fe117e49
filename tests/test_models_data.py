"""Image data: the digits dataset, and loaders for users' images with clear errors on bad input."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from rfbench.data import (
    DATASETS, detect_kind, get_dataset, load_cifar10, load_image_folder, load_npz, register_image_dataset,
)
from rfbench.errors import InvalidInputError


def test_digits_dataset_is_registered_with_the_fixed_split():
    from rfbench.data.images import digits

    ds = get_dataset("digits")
    assert ds.shape == (1, 8, 8) and ds.finite
    train = ds.train_set()
    assert train.shape == (1437, 1, 8, 8) and train.dtype == torch.float32
    assert torch.equal(train, digits("train")[0])
    assert train.min() >= -1 and train.max() <= 1
    held = ds.sample(500, seed=0).float()  # drawn from the 360 test images, never from train
    test = digits("test")[0].flatten(1)
    assert all(bool((test == h.flatten()).all(1).any()) for h in held[:50])


def _write_pngs(folder, n=3, size=8, mode="L"):
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size, size) if mode == "L" else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(folder / f"img{i}.png")


def test_image_folder_loads_in_unit_range(tmp_path):
    _write_pngs(tmp_path, 4, mode="RGB")
    x = load_image_folder(tmp_path)
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32
    assert -1 <= float(x.min()) and float(x.max()) <= 1
    raw = np.array(Image.open(tmp_path / "img0.png"))
    assert torch.allclose(x[0], torch.from_numpy(raw).permute(2, 0, 1).float() / 127.5 - 1)


def test_image_folder_with_a_broken_image_names_the_file(tmp_path):
    _write_pngs(tmp_path, 2)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(InvalidInputError, match="broken.png"):
        load_image_folder(tmp_path)


def test_image_folder_with_mixed_sizes_and_empty_folder(tmp_path):
    _write_pngs(tmp_path, 2, size=8)
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(tmp_path / "z_big.png")
    with pytest.raises(InvalidInputError, match="z_big.png.*one size"):
        load_image_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="holds no images"):
        load_image_folder(empty)


def test_npz_loader_checks_key_and_shape(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((5, 8, 8, 3), dtype=np.uint8), labels=np.arange(5))
    assert load_npz(good).shape == (5, 3, 8, 8)  # channels-last detected, key "images" chosen
    bad_shape = tmp_path / "bad.npz"
    np.savez(bad_shape, x=np.zeros((5, 64), dtype=np.float32))
    with pytest.raises(InvalidInputError, match=r"bad.npz.*shape \(5, 64\)"):
        load_npz(bad_shape)
    with pytest.raises(InvalidInputError, match="no array 'nope'"):
        load_npz(good, key="nope")
    out_of_range = tmp_path / "range.npz"
    np.savez(out_of_range, x=np.full((2, 8, 8), 3.0, dtype=np.float32))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\] or \[-1, 1\]"):
        load_npz(out_of_range)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_npz(tmp_path / "missing.npz")


def _fake_cifar(folder, n=4):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(range(n))}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)


def test_cifar10_loader_reads_the_python_release(tmp_path):
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    x, y = load_cifar10(tmp_path)  # the parent folder works too
    assert x.shape == (20, 3, 32, 32) and y.shape == (20,)
    assert detect_kind(tmp_path) == "cifar10"
    xt, _ = load_cifar10(tmp_path, split="test")
    assert xt.shape == (4, 3, 32, 32)


def test_cifar10_missing_files_are_named(tmp_path):
    _fake_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(InvalidInputError, match="lacks data_batch_3.*python-pickle release"):
        load_cifar10(tmp_path)


def test_cifar10_loader_refuses_code_in_pickles(tmp_path):
    _fake_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(InvalidInputError, match="data_batch_1.*refusing"):
        load_cifar10(tmp_path)


def test_registered_image_dataset_trains_a_unet_recipe(tmp_path):
    from rfbench.training import make_recipe

    _write_pngs(tmp_path, 6, size=16)
    try:
        ds = register_image_dataset("test-user-images", tmp_path)
        assert ds.shape == (1, 16, 16) and ds.train_set().shape == (6, 1, 16, 16)
        recipe = make_recipe("1-rf", "test-user-images")
        assert recipe.net == "UNet" and recipe.net_config["image_size"] == 16
        assert recipe.net_config["mults"] == [1, 2, 2]
        with pytest.raises(InvalidInputError, match="already registered"):
            register_image_dataset("test-user-images", tmp_path)
    finally:
        DATASETS._entries.pop("test-user-images", None)
