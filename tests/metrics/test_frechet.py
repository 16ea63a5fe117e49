"""Fréchet distance: closed forms for known Gaussians, the exact low-rank trace, streaming statistics,
and the .npz statistics format."""

import numpy as np
import pytest
import torch

from rfbench.errors import InvalidInputError
from rfbench.metrics.frechet import (FeatureStats, StatsAccumulator, frechet_distance, load_stats_npz, save_stats_npz,
                                     stats_from_features)


def _spd(d, rng, cond=10.0):
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.geomspace(1, cond, d)) @ q.T


def test_closed_form_diagonal_gaussians():
    # FD(N(m1, diag a), N(m2, diag b)) = |m1 - m2|^2 + sum (sqrt a - sqrt b)^2
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    m1, m2 = rng.standard_normal(16), rng.standard_normal(16)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance((m1, np.diag(a)), (m2, np.diag(b))) == pytest.approx(expected, rel=1e-12)


def test_closed_form_non_commuting_covariances():
    rng = np.random.default_rng(1)
    d = 12
    A = _spd(d, rng)
    # S1 = A, S2 = A^-1: S1 S2 = I, tr sqrt = d
    expected = np.trace(A) + np.trace(np.linalg.inv(A)) - 2 * d
    assert frechet_distance((np.zeros(d), A), (np.zeros(d), np.linalg.inv(A))) == pytest.approx(expected, rel=1e-10)
    # S1 = I, S2 = B: tr sqrt(B) = sum sqrt(eig B)
    B = _spd(d, rng, cond=100.0)
    mu = rng.standard_normal(d)
    expected = mu @ mu + d + np.trace(B) - 2 * np.sqrt(np.linalg.eigvalsh(B)).sum()
    assert frechet_distance((mu, np.eye(d)), (np.zeros(d), B)) == pytest.approx(expected, rel=1e-10)


def test_general_pair_matches_symmetric_formula_and_is_symmetric():
    # independent route: tr (S1^1/2 S2 S1^1/2)^1/2 with eigh
    rng = np.random.default_rng(2)
    d = 20
    s1, s2 = _spd(d, rng), _spd(d, rng, cond=50)
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(w)) @ v.T
    tr = np.sqrt(np.linalg.eigvalsh(r @ s2 @ r)).sum()
    m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr
    assert frechet_distance((m1, s1), (m2, s2)) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance((m2, s2), (m1, s1)) == pytest.approx(expected, rel=1e-10)
    assert abs(frechet_distance((m1, s1), (m1, s1))) < 1e-9


def test_low_rank_trace_equals_full_sqrtm():
    # n < d: the exact n x n formula and scipy's sqrtm on the singular d x d product agree
    rng = np.random.default_rng(3)
    d = 64
    f1 = rng.standard_normal((30, d)) @ rng.standard_normal((d, d)) * 0.2
    f2 = rng.standard_normal((500, d)) + 0.3
    low = frechet_distance(stats_from_features(f1), stats_from_features(f2))
    s1 = stats_from_features(f1)
    assert s1.centred is not None
    full = frechet_distance(FeatureStats(s1.mu, s1.sigma), stats_from_features(f2))
    # the full path carries round-off from the d - n + 1 null eigenvalues (sqrt of ~1e-15 each)
    assert low == pytest.approx(full, rel=1e-7)
    # independent exact route: project onto the range of S1 (its n - 1 non-zero eigenvalues)
    s2 = stats_from_features(f2).sigma
    w, v = np.linalg.eigh(s1.sigma)
    keep = w > w.max() * 1e-10
    r = v[:, keep] * np.sqrt(w[keep])
    assert keep.sum() == 29
    tr = np.sqrt(np.linalg.eigvalsh(r.T @ s2 @ r)).sum()
    s2m = stats_from_features(f2).mu
    exact = np.sum((s1.mu - s2m) ** 2) + np.trace(s1.sigma) + np.trace(s2) - 2 * tr
    assert low == pytest.approx(exact, rel=1e-11)
    # both sides low rank
    f3 = rng.standard_normal((40, d))
    low2 = frechet_distance(stats_from_features(f1), stats_from_features(f3))
    full2 = frechet_distance(FeatureStats(s1.mu, s1.sigma), FeatureStats(*[stats_from_features(f3).mu,
                                                                          stats_from_features(f3).sigma]))
    assert low2 == pytest.approx(full2, rel=1e-7)


def test_sample_estimate_converges_to_closed_form():
    rng = np.random.default_rng(4)
    d, n = 4, 40_000
    a, b = np.array([1.0, 2.0, 0.5, 1.5]), np.array([0.5, 1.0, 1.0, 3.0])
    m2 = np.array([1.0, 0.0, -1.0, 0.5])
    x = rng.standard_normal((n, d)) * np.sqrt(a)
    y = rng.standard_normal((n, d)) * np.sqrt(b) + m2
    exact = m2 @ m2 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    est = frechet_distance(stats_from_features(x), stats_from_features(y))
    assert est == pytest.approx(exact, abs=0.03)


def test_streaming_statistics_do_not_depend_on_batching():
    rng = np.random.default_rng(5)
    feats = torch.from_numpy(rng.standard_normal((300, 16)) * 3 + 100).float()  # large mean: cancellation test
    ref = stats_from_features(feats)
    for size in (1, 7, 64, 300):
        acc = StatsAccumulator()
        for chunk in feats.split(size):
            acc.update(chunk)
        s = acc.result()
        assert s.n == 300
        np.testing.assert_allclose(s.mu, ref.mu, rtol=1e-13)
        np.testing.assert_allclose(s.sigma, ref.sigma, rtol=1e-9, atol=1e-11)
    # n <= d keeps the features (exact low-rank path), batched or not
    acc = StatsAccumulator()
    for chunk in feats[:10].split(3):
        acc.update(chunk)
    assert acc.result().centred is not None


def test_npz_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(6)
    s = stats_from_features(rng.standard_normal((50, 8)))
    path = save_stats_npz(s, tmp_path / "ref.npz")
    back = load_stats_npz(path, dim=8)
    assert back.n == 50
    assert frechet_distance(back, s) == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(InvalidInputError, match="2048"):
        load_stats_npz(path, dim=2048)
    np.savez(tmp_path / "nomu.npz", sigma=s.sigma)
    with pytest.raises(InvalidInputError, match="nomu.npz.*lacks"):
        load_stats_npz(tmp_path / "nomu.npz")
    np.savez(tmp_path / "shape.npz", mu=s.mu, sigma=s.sigma[:4, :4])
    with pytest.raises(InvalidInputError, match="shape.npz"):
        load_stats_npz(tmp_path / "shape.npz")
    bad = s.sigma.copy()
    bad[0, 1] += 1.0
    np.savez(tmp_path / "asym.npz", mu=s.mu, sigma=bad)
    with pytest.raises(InvalidInputError, match="not symmetric"):
        load_stats_npz(tmp_path / "asym.npz")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_stats_npz(tmp_path / "absent.npz")
    with pytest.raises(InvalidInputError, match="dimensions"):
        frechet_distance(s, stats_from_features(rng.standard_normal((50, 9))))
