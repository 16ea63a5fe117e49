"""Error bars (rfbench.metrics.uncertainty, rfbench.metrics.frechet_bootstrap) against known answers:
coverage on Gaussians, uniform p-values under the null, exact replicates against recomputation on
the resampled samples, scipy's BCa, the Gaussian 1/N bias law of the Fréchet distance and FD_inf,
and mergeable moment statistics."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from rfbench.errors import InvalidInputError
from rfbench.metrics import sliced_w2, w2
from rfbench.metrics.frechet import frechet_distance, stats_from_features
from rfbench.metrics.frechet_bootstrap import (BlockAccumulator, FrechetBootstrap, MomentStats, block_stats,
                                               blocks_from_arrays, blocks_to_arrays, fd_inf)
from rfbench.metrics.uncertainty import (BootstrapPlan, Replicates, acceleration, bootstrap_interval,
                                         compact_letters, compare, default_method, holm, mean_replicates,
                                         paired_p_value, rank_with_groups, sliced_w2_replicates, t_interval, w2_replicates)


# -- plans ------------------------------------------------------------------------------------------
# a regression pin, not a known answer: replicates stored by earlier runs pair with new ones only if
# the resampling stream never changes (PCG64 raw output is stable across numpy versions)
FROZEN_FIRST_INDICES = [41, 39, 7, 20, 34, 32, 12, 18]


def test_plan_is_a_pure_function_of_n_B_seed_and_prefix_stable():
    a, b = BootstrapPlan(50, 20, 3), BootstrapPlan(50, 20, 3)
    np.testing.assert_array_equal(a.indices(), b.indices())
    np.testing.assert_array_equal(a.counts(), np.stack([np.bincount(i, minlength=50) for i in a.indices()]))
    assert a.counts().sum(1).tolist() == [50] * 20
    # replicate b does not depend on B; chunks reproduce counts
    np.testing.assert_array_equal(BootstrapPlan(50, 5, 3).indices(), a.indices(0, 5))
    np.testing.assert_array_equal(np.concatenate([c for _, c in a.chunks(7)]), a.counts())
    assert not np.array_equal(BootstrapPlan(50, 20, 4).indices(), a.indices())
    assert a.indices(0, 1)[0, :8].tolist() == FROZEN_FIRST_INDICES


def test_plan_draws_uniform_indices():
    counts = BootstrapPlan(40, 500, 0).counts().sum(0)  # 20,000 draws over 40 indices
    assert stats.chisquare(counts).pvalue > 1e-3


def test_plan_rejects_bad_input():
    for bad in [dict(n=1), dict(n=10, B=0), dict(n=10, seed=-1), dict(n=2.5)]:
        with pytest.raises(InvalidInputError):
            BootstrapPlan(**bad)


# -- replicates equal recomputation on the resampled samples ----------------------------------------
def test_mean_replicates_are_means_of_resampled_values():
    rng = np.random.default_rng(0)
    v = rng.exponential(size=30)
    plan = BootstrapPlan(30, 50, 1)
    rep = mean_replicates(v, plan)
    np.testing.assert_allclose(rep.values, v[plan.indices()].mean(1), rtol=1e-13)
    assert rep.estimate == pytest.approx(v.mean())


@pytest.mark.parametrize("block", [1, 4])
def test_frechet_replicates_equal_fd_of_resampled_features(block):
    rng = np.random.default_rng(1)
    d = 6
    x = rng.standard_normal((48, d)) @ rng.standard_normal((d, d)) * 0.5 + 0.3
    ref = stats_from_features(rng.standard_normal((400, d)))
    boot = FrechetBootstrap(block_stats(x, block), ref)
    plan = BootstrapPlan(boot.K, 6, 2)
    blocks = x.reshape(boot.K, block, d)
    direct = [frechet_distance(stats_from_features(blocks[i].reshape(-1, d)), ref) for i in plan.indices()]
    np.testing.assert_allclose(boot.values(plan.counts()), direct, rtol=1e-10)
    assert boot.estimate() == pytest.approx(frechet_distance(stats_from_features(x), ref), rel=1e-10)


def test_frechet_replicates_low_rank_fewer_samples_than_dimensions():
    # n < d (fd_digits has 128 samples of 128 features): the n x n Gram route
    rng = np.random.default_rng(2)
    d, n = 40, 24
    x = rng.standard_normal((n, d))
    ref = stats_from_features(rng.standard_normal((300, d)) * 1.2)
    boot = FrechetBootstrap(block_stats(x, 1), ref)
    plan = BootstrapPlan(n, 4, 0)
    direct = [frechet_distance(stats_from_features(x[i]), ref) for i in plan.indices()]
    np.testing.assert_allclose(boot.values(plan.counts()), direct, rtol=1e-7)


def test_w2_replicates_equal_w2_of_duplicated_points_and_linear_tracks_exact():
    torch.manual_seed(0)
    x, y = torch.randn(120, 2), torch.randn(150, 2) + 0.4
    plan = BootstrapPlan(120, 12, 0)
    exact = w2_replicates(x, y, plan)
    assert exact.estimate == pytest.approx(w2(x, y), rel=1e-12)
    for b in (0, 7):
        assert exact.values[b] == pytest.approx(w2(x[plan.indices(b, b + 1)[0]], y), rel=1e-9)
    linear = w2_replicates(x, y, plan, method="linear")
    assert np.corrcoef(exact.values, linear.values)[0, 1] > 0.95


def test_sliced_w2_replicates_equal_pot_on_duplicated_points():
    torch.manual_seed(1)
    x, y = torch.randn(90, 2) * 1.3, torch.randn(71, 2)
    plan = BootstrapPlan(90, 8, 5)
    rep = sliced_w2_replicates(x, y, plan, n_projections=64)
    assert rep.estimate == pytest.approx(sliced_w2(x, y, n_projections=64), rel=1e-10)
    for b in (0, 5):
        idx = plan.indices(b, b + 1)[0]
        assert rep.values[b] == pytest.approx(sliced_w2(x[idx], y, n_projections=64), rel=1e-10)
    # the first-order version's slopes are the exact derivatives (finite differences in one weight;
    # 90 and 71 are coprime, so no cumulative weight sits on a knot of the data's quantile function)
    from rfbench.metrics.uncertainty import _points, _projections, _sliced_influence, _sliced_sq

    a, b = _points(x), _points(y)
    proj = _projections(2, 64, 0)
    xp, yp = a @ proj, np.sort(b @ proj, 0)
    order = np.argsort(xp, 0, kind="stable")
    xs = np.take_along_axis(xp, order, 0)
    psi = _sliced_influence(xs, yp, order)
    base = _sliced_sq(xs, yp, order, np.ones((1, 90)), 90)[0]
    for j in (0, 11, 50):
        c = np.ones((1, 90))
        c[0, j] += 1e-6 * 90
        c *= 90 / c.sum()
        fd = (_sliced_sq(xs, yp, order, c, 90)[0] - base) / 1e-6
        assert fd == pytest.approx(psi[j] - psi.mean(), rel=1e-3, abs=1e-4)


# -- intervals --------------------------------------------------------------------------------------
def _coverage(estimates, reps, truth, method, influences=None, level=0.95):
    hits = 0
    for k in range(len(estimates)):
        iv = bootstrap_interval(estimates[k], reps[k], method=method, level=level,
                                influence=None if influences is None else influences[k])
        hits += iv.contains(truth)
    return hits / len(estimates)


def test_mean_intervals_cover_the_true_mean_95_percent_of_400_gaussian_draws():
    rng = np.random.default_rng(2024)
    n, runs, mu, sigma = 100, 400, 1.5, 2.0
    data = rng.normal(mu, sigma, (runs, n))
    counts = BootstrapPlan(n, 1000, 0).counts()
    reps = data @ counts.T / n
    est = data.mean(1)
    infl = data - est[:, None]
    for method in ("percentile", "bca"):
        cov = _coverage(est, reps, mu, method, infl)
        assert 0.93 <= cov <= 0.97, (method, cov)


def test_bca_matches_scipy_bootstrap_bca():
    # an independent implementation (scipy.stats.bootstrap) on skewed data: endpoints agree within
    # the Monte Carlo error of 4000 resamples
    rng = np.random.default_rng(3)
    v = rng.exponential(size=60)
    mine = mean_replicates(v, BootstrapPlan(60, 4000, 1)).interval("bca")
    ref = stats.bootstrap((v,), np.mean, n_resamples=4000, method="BCa", random_state=1).confidence_interval
    width = ref.high - ref.low
    assert abs(mine.lo - ref.low) < 0.05 * width and abs(mine.hi - ref.high) < 0.05 * width
    # acceleration of a mean: skewness / (6 sqrt(n)) with the biased skewness
    assert acceleration(v - v.mean()) == pytest.approx(stats.skew(v) / (6 * math.sqrt(60)), rel=1e-12)


def test_t_interval_matches_scipy():
    v = [0.31, 0.29, 0.35, 0.33]
    iv = t_interval(v)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(v), scale=stats.sem(v))
    assert (iv.lo, iv.hi, iv.n, iv.method) == (pytest.approx(lo), pytest.approx(hi), 4, "t")
    assert math.isnan(t_interval([0.3]).lo)
    assert iv.columns("fid") == {"fid_lo": iv.lo, "fid_hi": iv.hi, "fid_ci": "t 95%, 4 seeds"}


# -- paired comparisons -----------------------------------------------------------------------------
def test_sampler_against_itself_gives_p_1_and_zero_interval():
    v = np.random.default_rng(4).exponential(size=50)
    rep = mean_replicates(v, BootstrapPlan(50, 500, 0))
    for method in ("percentile", "basic", "bca", "centred"):
        c = compare(rep, rep, method=method)
        assert c.p_value == 1.0 and c.interval.lo == 0.0 == c.interval.hi


def test_paired_p_values_are_uniform_under_the_null():
    # two samplers with the same distribution from the same noise: shared part f(z), own noise
    rng = np.random.default_rng(5)
    n, runs = 80, 400
    counts = BootstrapPlan(n, 999, 0).counts()
    plan = BootstrapPlan(n, 999, 0)
    ps = {"percentile": [], "bca": []}
    lo_hi_contains_0 = 0
    for _ in range(runs):
        z = rng.standard_normal(n)
        a = np.exp(0.5 * z) + 0.3 * rng.standard_normal(n)
        b = np.exp(0.5 * z) + 0.3 * rng.standard_normal(n)
        ra = Replicates(a.mean(), counts @ a / n, plan, a - a.mean(), kind="mean")
        rb = Replicates(b.mean(), counts @ b / n, plan, b - b.mean(), kind="mean")
        for method in ps:
            c = compare(ra, rb, method=method)
            ps[method].append(c.p_value)
        lo_hi_contains_0 += compare(ra, rb).interval.contains(0.0)  # the default for means: BCa
    for method, p in ps.items():
        p = np.array(p)
        assert stats.kstest(p, "uniform").pvalue > 0.01, method
        assert 0.025 <= np.mean(p < 0.05) <= 0.075, method
    assert 0.93 <= lo_hi_contains_0 / runs <= 0.97


def test_p_value_is_dual_to_the_interval():
    rng = np.random.default_rng(6)
    plan = BootstrapPlan(40, 400, 2)
    for shift in np.linspace(0, 0.8, 9):
        a = rng.standard_normal(40) + shift
        b = a - shift + 0.5 * rng.standard_normal(40)
        for method in ("percentile", "bca", "centred"):
            c = compare(mean_replicates(a, plan), mean_replicates(b, plan), method=method)
            inside = c.interval.lo <= 0 <= c.interval.hi
            # away from the boundary (quantile interpolation), p >= 0.05 exactly when 0 is inside
            if abs(c.p_value - 0.05) > 0.01:
                assert inside == (c.p_value >= 0.05), (method, shift, c)


def test_basic_and_centred_intervals_and_defaults():
    # a statistic whose replicates sit 0.5 above it (a bias): basic reflects, centred moves back
    plan = BootstrapPlan(10, 1001, 0)
    vals = 2.5 + np.linspace(-1, 1, 1001)
    rep = Replicates(2.0, vals, plan, kind="frechet")
    q_lo, q_hi = np.quantile(vals, [0.025, 0.975])
    assert rep.interval("percentile").lo == pytest.approx(q_lo)
    assert (rep.interval("basic").lo, rep.interval("basic").hi) == (pytest.approx(4 - q_hi), pytest.approx(4 - q_lo))
    assert (rep.interval().lo, rep.interval().hi) == (pytest.approx(q_lo - 0.5), pytest.approx(q_hi - 0.5))
    assert rep.interval().method == default_method("frechet") == "centred"
    # basic with the bootstrap world's value given: pivot on it
    rep.truth = 2.1
    assert rep.interval("basic").lo == pytest.approx(2.0 - (q_hi - 2.1))
    # the p-value of a centred difference: the replicates moved onto the estimate
    diff = Replicates(0.0, vals - 2.5 + 0.3, plan, kind="frechet")
    assert paired_p_value(diff) == pytest.approx(1.0, abs=0.01)


def test_pairing_needs_the_same_plan():
    v = np.ones(10) + np.arange(10)
    with pytest.raises(InvalidInputError, match="same resampling plan"):
        mean_replicates(v, BootstrapPlan(10, 5, 0)) - mean_replicates(v, BootstrapPlan(10, 5, 1))


def test_replicates_round_trip_through_json():
    rep = mean_replicates(np.arange(12.0), BootstrapPlan(12, 9, 3))
    back = Replicates.from_dict(json.loads(json.dumps(rep.to_dict())))
    np.testing.assert_array_equal(back.values, rep.values)
    assert back.plan == rep.plan and back.interval() == rep.interval()


def test_euler_vs_heun_at_nfe_8_paired_and_unpaired(gmm_rf):
    # docs/uncertainty.md reports these figures: ref_rmse of Euler and Heun at NFE 8 from the same
    # noise. The paired interval of the difference excludes 0 and is narrower than the unpaired
    # one; here (and at every n from 16 to 256) the two unpaired intervals do NOT overlap either.
    import rfbench
    from rfbench.metrics import per_sample_rmse

    n = 64
    noise = gmm_rf.sample_prior(n, seed=0, dtype=torch.float64)
    ref = rfbench.reference_solution(gmm_rf, noise).x_end
    e = per_sample_rmse(rfbench.sample(gmm_rf, "euler", 8, noise=noise).x, ref)
    h = per_sample_rmse(rfbench.sample(gmm_rf, "heun", 8, noise=noise).x, ref)
    plan = BootstrapPlan(n, 2000, 0)
    re, rh = mean_replicates(e, plan), mean_replicates(h, plan)
    ie, ih, c = re.interval(), rh.interval(), compare(re, rh)
    assert c.interval.lo > 0 and c.p_value < 0.01
    unpaired_half = math.hypot((ie.hi - ie.lo) / 2, (ih.hi - ih.lo) / 2)
    assert (c.interval.hi - c.interval.lo) / 2 < 0.8 * unpaired_half
    assert ie.lo > ih.hi  # measured: no overlap (Euler ~0.062, Heun ~0.025)


# -- multiple comparisons ---------------------------------------------------------------------------
def test_holm_adjustment():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.2]), [0.5, 0.4])


def test_compact_letters():
    names = ["a", "b", "c", "d"]
    # a ~ b, b ~ c, a != c, everything != d
    diff = {frozenset(p) for p in [("a", "c"), ("a", "d"), ("b", "d"), ("c", "d")]}
    letters = compact_letters(names, diff)
    assert letters == {"a": "a", "b": "ab", "c": "b", "d": "c"}
    for x in names:
        for y in names:
            if x != y:
                assert bool(set(letters[x]) & set(letters[y])) == (frozenset((x, y)) not in diff)
    assert compact_letters(names, set()) == dict.fromkeys(names, "a")


def test_rank_with_groups():
    rng = np.random.default_rng(7)
    n = 200
    plan = BootstrapPlan(n, 999, 0)
    z = rng.exponential(size=n)
    cells = {"good": z + 0.01 * rng.standard_normal(n), "same": z + 0.01 * rng.standard_normal(n),
             "worse": z + 0.3 + 0.01 * rng.standard_normal(n)}
    rows = rank_with_groups({k: mean_replicates(v, plan) for k, v in cells.items()})
    by = {r["name"]: r for r in rows}
    assert rows[-1]["name"] == "worse" and not by["worse"]["with_best"] and by["worse"]["p_vs_best"] < 0.01
    assert {rows[0]["name"], rows[1]["name"]} == {"good", "same"} and rows[1]["with_best"]
    assert by["worse"]["letters"] == "b" and rows[0]["letters"] == rows[1]["letters"] == "a"


def test_rank_with_groups_separates_many_samplers():
    """19 samplers (171 pairs): Holm on bootstrap p-values (floor 2 / (B + 1)) could never separate any
    pair; the grouping then uses Wald p-values and still keeps a near-tie with the best."""
    rng = np.random.default_rng(11)
    n = 400
    plan = BootstrapPlan(n, 999, 0)
    z = rng.exponential(size=n)
    cells = {f"s{k:02d}": mean_replicates(z + 0.05 * k + 0.01 * rng.standard_normal(n), plan) for k in range(18)}
    cells["tie"] = mean_replicates(z + 0.01 * rng.standard_normal(n), plan)
    rows = rank_with_groups(cells)
    by = {r["name"]: r for r in rows}
    assert rows[0]["p_method"] == "wald"
    assert by["tie"]["with_best"] and by["s00"]["with_best"]
    assert not by["s17"]["with_best"] and by["s17"]["p_vs_best"] < 1e-6
    assert sum(r["with_best"] for r in rows) <= 3


# -- Fréchet distances: mergeable statistics, the 1/N bias law, FD_inf ------------------------------
def test_merged_block_statistics_equal_statistics_of_concatenated_features():
    rng = np.random.default_rng(8)
    parts = [rng.standard_normal((k, 5)) * 3 + 100 for k in (7, 1, 30, 12)]  # offset: cancellation check
    whole = MomentStats.from_features(np.concatenate(parts))
    stats_ = [MomentStats.from_features(p) for p in parts]
    pairwise = stats_[0] + stats_[1] + stats_[2] + stats_[3]
    for merged in (MomentStats.merge(stats_), pairwise, MomentStats.zeros(5) + MomentStats.merge(stats_)):
        assert merged.n == whole.n
        np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-12, atol=0)
        np.testing.assert_allclose(merged.scatter, whole.scatter, rtol=1e-12, atol=1e-12 * np.abs(whole.scatter).max())
    fs = MomentStats.merge(stats_).feature_stats()
    np.testing.assert_allclose(fs.sigma, np.cov(np.concatenate(parts), rowvar=False), rtol=1e-12)
    # block streaming does not depend on the batching; arrays round-trip
    acc = BlockAccumulator(8)
    for p in parts:
        acc.update(p)
    direct = block_stats(np.concatenate(parts), 8)
    assert [b.n for b in acc.blocks()] == [8] * 6 + [2]
    for u, v in zip(acc.blocks(), blocks_from_arrays(blocks_to_arrays(direct))):
        np.testing.assert_allclose(u.scatter, v.scatter, rtol=1e-12, atol=1e-10)
    back = MomentStats.from_dict(whole.to_dict())
    np.testing.assert_array_equal(back.scatter, whole.scatter)


def _gaussian_case(d=16, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s_g = (q * np.geomspace(0.5, 2, d)) @ q.T
    s_r = np.diag(np.linspace(0.7, 1.5, d))
    mu_g, mu_r = np.full(d, shift / math.sqrt(d)), np.zeros(d)
    true = frechet_distance((mu_g, s_g), (mu_r, s_r))
    # second-order bias of FD_N with exact reference moments and Gaussian features (docs/uncertainty.md):
    # E FD_N = FD + k / N + O(N^-2), k = tr S_g + (1/2) [sum_ij s_i s_j / (s_i + s_j) + (1/2) sum_i s_i],
    # s_i^2 the eigenvalues of S_r^1/2 S_g S_r^1/2
    w, v = np.linalg.eigh(s_r)
    r = (v * np.sqrt(w)) @ v.T
    s = np.sqrt(np.linalg.eigvalsh(r @ s_g @ r))
    k = np.trace(s_g) + 0.5 * ((np.outer(s, s) / (s[:, None] + s[None, :])).sum() + 0.5 * s.sum())
    return rng, np.linalg.cholesky(s_g), mu_g, (mu_r, s_r), true, k


def test_fd_bias_follows_the_gaussian_one_over_n_law():
    rng, chol, mu_g, ref, true, k = _gaussian_case()
    for n in (250, 1000):
        fds = np.array([frechet_distance(stats_from_features(mu_g + rng.standard_normal((n, 16)) @ chol.T), ref)
                        for _ in range(300)])
        se = fds.std(ddof=1) / math.sqrt(len(fds))
        assert abs(fds.mean() - true - k / n) < 3.5 * se, (n, fds.mean() - true, k / n, se)


@pytest.mark.slow
def test_fd_interval_coverage_of_the_true_fd_and_of_its_expectation():
    # FD_N is biased by ~k/N (0.027 here, 0.4 of its s.d.): "basic" targets the true FD, "centred"
    # E[FD_N]; 400 repetitions, 95 % nominal (docs/uncertainty.md has the other methods and settings)
    d, n, runs = 8, 1000, 400
    rng, chol, mu_g, ref, true, _ = _gaussian_case(d=d, seed=12345, shift=1.0)
    expect = np.mean([frechet_distance(stats_from_features(mu_g + rng.standard_normal((n, d)) @ chol.T), ref)
                      for _ in range(4000)])
    plan = BootstrapPlan(n, 400, 7)
    basic = centred = 0
    for _ in range(runs):
        rep = FrechetBootstrap.from_features(mu_g + rng.standard_normal((n, d)) @ chol.T, ref).replicates(plan)
        basic += rep.interval("basic").contains(true)
        centred += rep.interval().contains(expect)
    assert 0.92 <= basic / runs <= 0.98 and 0.92 <= centred / runs <= 0.98, (basic / runs, centred / runs)


def test_fd_inf_removes_the_bias_and_reproduces_the_one_over_n_law():
    rng, chol, mu_g, ref, true, k = _gaussian_case(seed=1)
    n, block, runs = 4000, 20, 40
    infs, fdn, slopes = [], [], []
    for _ in range(runs):
        boot = FrechetBootstrap.from_features(mu_g + rng.standard_normal((n, 16)) @ chol.T, ref, block_size=block)
        res = fd_inf(boot)
        infs.append(res.estimate)
        fdn.append(res.fds[-1])
        slopes.append(res.slope)
    assert res.sizes[0] == 400 and res.sizes[-1] == n and len(res.sizes) == 15
    infs, fdn, slopes = np.array(infs), np.array(fdn), np.array(slopes)
    # FD_N is biased by k / N, FD_inf is not, and the fitted slope is the law's k
    assert abs(infs.mean() - true) < 3 * infs.std(ddof=1) / math.sqrt(runs)
    assert fdn.mean() - true == pytest.approx(k / n, rel=0.35)
    assert abs(slopes.mean() - k) < 3 * slopes.std(ddof=1) / math.sqrt(runs)
    # one run with its bootstrap: the interval's width matches the spread of FD_inf over repetitions
    boot = FrechetBootstrap.from_features(mu_g + rng.standard_normal((n, 16)) @ chol.T, ref, block_size=block)
    res = fd_inf(boot, plan=BootstrapPlan(boot.K, 100, 0))
    assert 0.5 < (res.interval.hi - res.interval.lo) / (3.92 * infs.std(ddof=1)) < 2
    assert res.columns("fd")["fd_inf_lo"] == res.interval.lo


@pytest.mark.slow
def test_fd_inf_interval_coverage():
    # measured 93 % here (docs); the bound is nominal 95 % less 3 binomial standard errors
    rng, chol, mu_g, ref, true, _ = _gaussian_case(seed=1)
    runs, hits = 100, 0
    for r in range(runs):
        boot = FrechetBootstrap.from_features(mu_g + rng.standard_normal((2000, 16)) @ chol.T, ref, block_size=20)
        hits += fd_inf(boot, plan=BootstrapPlan(boot.K, 100, r)).interval.contains(true)
    assert hits / runs >= 0.88


def test_fd_inf_refuses_sizes_near_the_feature_dimension():
    rng = np.random.default_rng(0)
    boot = FrechetBootstrap(block_stats(rng.standard_normal((128, 16)), 1), (np.zeros(16), np.eye(16)))
    with pytest.raises(InvalidInputError, match="feature dimension"):
        fd_inf(boot, min_size=12)
