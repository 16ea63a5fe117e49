"""Every kind of cache file survives corruption: build it (tiny settings), flip bytes in the file,
load again, and check that the corruption is reported (a warning naming the file), the file is moved
aside (``<file>.corrupt-<time>``), the value is rebuilt and equals the original, and the rebuilt file is
then reused. (Checkpoints and reference solutions: tests/integration/test_reliability.py.)

Kinds here: BOSS calibrations, FlowTurbo refiners, FID reference statistics (with the stand-in,
randomly initialised Inception: no published weights exist on this machine, and none are needed to
test the cache) and the stand-in weights file itself, the digits classifier, reflow pairs.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture
def cold_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("RFBENCH_CACHE", str(root))
    return root


def _flip_bytes(path: Path) -> None:
    """Flip a handful of bytes spread over the file (header, tensor data and the end)."""
    data = bytearray(path.read_bytes())
    for i in range(0, len(data), max(1, len(data) // 9)):
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))


def corrupt_and_reload(folder: Path, load):
    """``load()`` -> (value, cache_hit), run on a cold cache: build, corrupt the one file in ``folder``,
    load again. Returns (first value, rebuilt value) after checking report, quarantine, rebuild, reuse."""
    first, hit = load()
    assert not hit
    files = [p for p in folder.iterdir() if p.suffix in (".pt", ".pth")]
    assert len(files) == 1, files
    path = files[0]
    assert path.with_name(path.name + ".sha256").exists()
    _flip_bytes(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt, hit = load()
    reports = [str(w.message) for w in caught if path.name in str(w.message)]
    assert reports and "corrupted" in reports[0], [str(w.message) for w in caught]
    assert not hit
    moved = [p for p in folder.iterdir() if p.name.startswith(path.name + ".corrupt-") and not p.name.endswith(".sha256")]
    assert len(moved) == 1 and moved[0].name in reports[0]  # the message says where the bad file went
    assert path.exists()  # the rebuilt file, verified on the next load
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean hit: no warning at all
        again, hit = load()
    assert hit
    return first, rebuilt, again


def test_boss_calibration_cache(cold_cache):
    from rfbench.models import get_model
    from rfbench.training.boss import calibrate

    def load():  # a fresh model object each time: the in-process memo lives on the model
        calib = calibrate(get_model("analytic-gmm-rf"), K=8, M=4, progress=False)
        return calib, calib.cache_hit

    first, rebuilt, again = corrupt_and_reload(cold_cache / "boss", load)
    for other in (rebuilt, again):
        assert torch.equal(first.ts, other.ts) and torch.equal(first.cost, other.cost)
    assert first.solve(3) == rebuilt.solve(3)


def test_flowturbo_refiner_cache(cold_cache):
    from rfbench.models import get_model
    from rfbench.training.flowturbo import RefinerConfig, load_refiner

    cfg = RefinerConfig(hidden=8, depth=2, n_traj=16, pool_steps=4, n_pairs=256, steps=10, batch=32)

    def load():
        handle = load_refiner(get_model("analytic-gmm-rf"), cfg, progress=False)
        return handle, handle.cache_hit

    first, rebuilt, again = corrupt_and_reload(cold_cache / "refiners", load)
    for other in (rebuilt, again):  # retraining is deterministic under the config's seed
        for (k1, v1), (k2, v2) in zip(first.net.state_dict().items(), other.net.state_dict().items()):
            assert k1 == k2 and torch.equal(v1, v2), k1


def test_fid_reference_statistics_cache(cold_cache):
    from rfbench.metrics.fid import InceptionFeatures, reference_stats, standin_inception_weights

    weights = standin_inception_weights()  # stand-in weights: this is a test of the cache, not an FID
    options = {"standin_ref_size": 12, "image_size": 32}

    def load():
        ext = InceptionFeatures(weights, layer="64", batch_size=6)
        stats, feats, info = reference_stats("standin", ext, 10, options, prc_n=4)
        return (stats, feats), info["cache_hit"]

    (s1, f1), (s2, f2), (s3, f3) = corrupt_and_reload(cold_cache / "fid-stats", load)
    for s, f in ((s2, f2), (s3, f3)):
        np.testing.assert_array_equal(s1.mu, s.mu)
        np.testing.assert_array_equal(s1.sigma, s.sigma)
        assert s1.n == s.n == 10 and torch.equal(f1, f)


def test_standin_inception_weights_cache(cold_cache):
    """The stand-in weights file is itself a cache entry (rebuilt from its seed)."""
    from rfbench.metrics.fid import standin_inception_weights

    first = standin_inception_weights()  # it reports no cache hits: the checks below do without
    path = Path(first.path)
    _flip_bytes(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt = standin_inception_weights()
    assert any(path.name in str(w.message) and "corrupted" in str(w.message) for w in caught)
    assert list(path.parent.glob(path.name + ".corrupt-*"))
    assert rebuilt.sha256 == first.sha256  # the same random weights, rebuilt from the seed


def test_digits_classifier_cache(cold_cache):
    from rfbench.metrics.digits_classifier import DigitsClassifierConfig, load_digits_classifier

    cfg = replace(DigitsClassifierConfig(), epochs=1, width=8, feat_dim=16)
    first, rebuilt, again = corrupt_and_reload(cold_cache / "digits-classifier",
                                               lambda: load_digits_classifier(cfg, progress=False))
    for other in (rebuilt, again):  # deterministic retraining: same weights, same accuracy
        assert other.sha256 == first.sha256 and other.test_acc == first.test_acc


def test_reflow_pairs_cache(cold_cache):
    from rfbench.training import load_pairs, make_recipe

    pairs_spec = {"n": 128, "rtol": 1e-4, "atol": 1e-4, "dtype": "float32", "chunk": 128, "seed": 20_000}
    net = {"hidden": 16, "depth": 2}
    recipe = make_recipe("2-rf", "8gaussians", steps=10, net_config=net, batch=32, n_train=256)
    parent = make_recipe("1-rf", "8gaussians", steps=10, net_config=net, batch=32, n_train=256)
    recipe = replace(recipe, parent=parent, pairs=pairs_spec)

    first, rebuilt, again = corrupt_and_reload(cold_cache / "pairs", lambda: load_pairs(recipe, progress=False))
    for other in (rebuilt, again):
        assert torch.equal(first["noise"], other["noise"]) and torch.equal(first["x1"], other["x1"])


def test_two_bad_copies_within_a_second_are_both_kept(tmp_path):
    """Quarantined files are evidence: a second one moved aside in the same second does not replace the first."""
    from rfbench import cache

    path = tmp_path / "thing.pt"
    cache.cached(path, lambda: {"w": torch.arange(3.0)})
    for _ in range(2):
        _flip_bytes(path)
        with pytest.warns(UserWarning, match="thing.pt.*corrupted"):
            value, hit = cache.cached(path, lambda: {"w": torch.arange(3.0)})
        assert not hit and torch.equal(value["w"], torch.arange(3.0))
    moved = [p for p in tmp_path.glob("thing.pt.corrupt-*") if not p.name.endswith(".sha256")]
    assert len(moved) == 2


def test_cell_records_survive_corruption(tmp_path, cold_cache):
    """Cell records get the cache files' treatment: a flipped byte is reported by name, the record is moved
    aside and the cell recomputed, bit-identically."""
    from rfbench import run_suite

    kw = dict(models=["analytic-gmm-rf"], samplers=["euler"], nfe=[2], n_samples=50, progress=False, out=tmp_path / "o")
    first = run_suite("toy2d", **kw)["frame"]
    record = next((tmp_path / "o" / "cells").glob("*.json"))
    _flip_bytes(record)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_suite("toy2d", **kw)
    assert res["summary"]["computed"] == 1
    assert any(record.name in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert list(record.parent.glob(record.name + ".corrupt-*"))
    cols = ["ref_rmse", "w2", "sw2", "straightness", "nfe_measured"]
    assert res["frame"][cols].equals(first[cols])
    assert run_suite("toy2d", **kw)["summary"]["reused"] == 1
