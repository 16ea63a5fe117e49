"""FID plumbing against torch-fidelity itself. The Inception weights here are a saved, randomly
initialised stand-in (no real weights exist on the test machines): they test that rfbench computes
exactly what torch-fidelity computes with the same file, and are never reported as FID."""

import numpy as np
import pytest
import torch

from rfbench.errors import MissingResourceError
from rfbench.metrics import fid as fidmod
from rfbench.metrics.fid import (FIDReference, InceptionFeatures, fid_from_images, reference_stats,
                                 register_fid_reference, resolve_inception_weights, standin_inception_weights,
                                 to_uint8)
from rfbench.runner.cell_metrics.images import fid_noise


class _Images(torch.utils.data.Dataset):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def _images(n, seed, shift=0):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand((n, 3, 8, 8), generator=g)
    x = torch.nn.functional.interpolate(low, size=(32, 32), mode="bilinear", align_corners=False)
    return (x * 200 + shift).clamp(0, 255).round().to(torch.uint8)


@pytest.fixture(scope="module")
def standin():
    return standin_inception_weights()


def _torch_fidelity_fid(a, b, weights, layer):
    import torch_fidelity

    out = torch_fidelity.calculate_metrics(
        input1=_Images(a), input2=_Images(b), fid=True, feature_layer_fid=layer,
        feature_extractor_weights_path=str(weights.path), cuda=False, cache=False, verbose=False,
        save_cpu_ram=True, batch_size=7, datasets_download=False)
    return out["frechet_inception_distance"]


def test_to_uint8_rule():
    u = torch.arange(256, dtype=torch.float64)
    assert torch.equal(to_uint8(u / 127.5 - 1).long(), u.long())  # exact inverse of the data scaling
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 7.0, 0.5 / 127.5 - 1])
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255, 0]  # clamp; 127.5 -> 128 and 0.5 -> 0 (half to even)


def test_matches_torch_fidelity_same_weights_file(standin):
    # layer "64" stops the network early (fast); the slow test below checks pool3 (2048)
    a, b = _images(12, 0), _images(10, 1, shift=30)
    ours = fid_from_images(a, b, InceptionFeatures(standin, layer="64", batch_size=5))
    assert ours > 1e-3
    assert ours == pytest.approx(_torch_fidelity_fid(a, b, standin, "64"), rel=1e-5)


@pytest.mark.slow
def test_matches_torch_fidelity_pool3_2048(standin):
    a, b = _images(10, 2), _images(8, 3, shift=30)
    ours = fid_from_images(a, b, InceptionFeatures(standin, batch_size=4))
    assert ours == pytest.approx(_torch_fidelity_fid(a, b, standin, "2048"), rel=1e-5)


def test_fid_does_not_depend_on_batch_size(standin):
    a, b = _images(10, 4), _images(7, 5, shift=20)
    values = [fid_from_images(a, b, InceptionFeatures(standin, layer="64", batch_size=bs)) for bs in (3, 10)]
    assert values[1] == pytest.approx(values[0], rel=1e-5)


def test_fid_noise_is_independent_of_generation_batch():
    from rfbench.models import from_velocity

    model = from_velocity(lambda x, t: -x, data_shape=(3, 4, 4))
    full = torch.cat(list(fid_noise(model, 3, 1234, 1234)))
    for batch in (1, 7, 500, 600):
        parts = list(fid_noise(model, 3, 1234, batch))
        assert all(len(p) == batch for p in parts[:-1])
        assert torch.equal(torch.cat(parts), full)
    assert not torch.equal(torch.cat(list(fid_noise(model, 4, 10, 10))), full[:10])  # seeds differ


def test_reference_statistics_are_computed_once_and_reused(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))  # a cold cache, whatever ran before
    calls = []

    def load(options):
        calls.append(1)
        return _images(20, 7)

    register_fid_reference(FIDReference("test-counting", "test", load, lambda o: "v1"))
    ext = InceptionFeatures(standin, layer="64", batch_size=8)
    s1, f1, info1 = reference_stats("test-counting", ext, 16, {}, prc_n=5)
    s2, f2, info2 = reference_stats("test-counting", ext, 16, {}, prc_n=5)
    assert (info1["cache_hit"], info2["cache_hit"], len(calls)) == (False, True, 1)
    assert info2["ref_n"] == 16 and f2.shape == (5, 64)
    np.testing.assert_array_equal(s1.sigma, s2.sigma)
    # a different sample count or weights file is a different cache entry
    reference_stats("test-counting", ext, 12, {})
    assert len(calls) == 2


def test_weights_resolution_never_downloads(tmp_path, monkeypatch, standin):
    monkeypatch.delenv(fidmod.ENV_INCEPTION, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingResourceError, match="RFBENCH_INCEPTION_WEIGHTS.*never downloads|never downloads"):
        resolve_inception_weights()
    with pytest.raises(MissingResourceError, match="nowhere.pth"):
        resolve_inception_weights(tmp_path / "nowhere.pth")
    # torch-fidelity's own download location is used when present
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fidmod.INCEPTION_FILENAME).write_bytes(standin.path.read_bytes())
    found = resolve_inception_weights()
    assert found.source == "torch hub cache" and found.sha256 == standin.sha256
    assert not found.verified  # a random stand-in is not the published file
    monkeypatch.setenv(fidmod.ENV_INCEPTION, str(standin.path))
    assert resolve_inception_weights().source == "$RFBENCH_INCEPTION_WEIGHTS"
    monkeypatch.setattr(fidmod, "KNOWN_INCEPTION_SHA256", standin.sha256)
    assert resolve_inception_weights().verified


def test_unsafe_or_mismatched_weights_are_refused(tmp_path):
    from rfbench.errors import CheckpointError
    from rfbench.metrics.fid import WeightsFile

    bad = tmp_path / "bad.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, bad)
    w = WeightsFile(bad, "0" * 64, "option", False, "bad")
    with pytest.raises(CheckpointError, match="bad.pth"):
        InceptionFeatures(w, layer="64")
