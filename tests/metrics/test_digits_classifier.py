"""The digits classifier behind fd_digits: deterministic training, accuracy, cache, and the hook."""

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from rfbench.data.images import digits
from rfbench.metrics.digits_classifier import DigitsClassifierConfig, _train, load_digits_classifier, state_sha256
from rfbench.metrics.frechet import frechet_distance, stats_from_features


def test_training_is_deterministic():
    cfg = replace(DigitsClassifierConfig(), epochs=1, width=8, feat_dim=16)
    a, b = _train(cfg, progress=False), _train(cfg, progress=False)
    assert a["test_acc"] == b["test_acc"]
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k


@pytest.mark.slow
def test_default_classifier_accuracy_cache_and_fd():
    clf, _ = load_digits_classifier(progress=False)
    assert clf.test_acc >= 0.95  # measured 0.981 on 360 held-out digits
    again, hit = load_digits_classifier(progress=False)
    assert hit and again.sha256 == clf.sha256 == state_sha256(again.net)
    assert clf.sha256[:16] in clf.id and "digits-cnn" in clf.id
    ref = clf.reference_stats()
    assert ref.n == 360
    train = digits("train")[0]
    fd_data = frechet_distance(stats_from_features(clf.features(train)), ref)
    fd_noise = frechet_distance(stats_from_features(clf.features(torch.randn(360, 1, 8, 8).clamp(-1, 1))), ref)
    fd_blur = frechet_distance(stats_from_features(clf.features(torch.nn.functional.avg_pool2d(train, 3, 1, 1))), ref)
    assert fd_data < fd_blur / 5 and fd_data < fd_noise / 5

    # the cell hook: the test set against itself is at distance 0, and the row records the protocol
    from rfbench.runner.cell_metrics.images import fd_digits_metric

    ctx = SimpleNamespace(memo={}, device=torch.device("cpu"), progress=False, suite=SimpleNamespace(options={}))
    cell = SimpleNamespace(key="test-cell", seed=0)  # the hook hands its features to the interval step
    row = {}
    fd_digits_metric(ctx, cell, SimpleNamespace(x=digits("test")[0]), row)
    assert abs(row["fd_digits"]) < 1e-6
    assert row["fd_digits_ref"] == "digits-test" and row["fd_digits_ref_n"] == 360
    assert row["fd_digits_n_samples"] == 360 and row["digits_classifier_acc"] == clf.test_acc
    assert row["fd_digits_extractor"] == clf.id
    bad = {}
    fd_digits_metric(ctx, cell, SimpleNamespace(x=torch.zeros(4, 3, 8, 8)), bad)
    assert "fd_digits" not in bad and "need (1, 8, 8)" in bad["notes"]
