"""Reproduce the validation figures of docs/uncertainty.md (known answers, fixed seeds).

    python scripts/validate_uncertainty.py [SECTION ...] [--reps R]

Sections (all by default):
  means     coverage of percentile / basic / BCa intervals of a mean, Gaussian and exponential data
  null      paired p-values of two equal-distribution samplers from the same noise: rejection rate, KS
  pairing   ref_rmse of samplers at NFE 8 on analytic-gmm-rf: unpaired intervals vs the paired difference
  fd        coverage of FD intervals of the true FD and of E[FD_N] (Gaussian features, known parameters)
  bias      the 1/N bias law of FD_N against its second-order Gaussian formula
  fdinf     FD_inf: bias and coverage of its bootstrap interval over repetitions
  w2        exact vs first-order ("linear") replicates of W2 and sliced W2, away from and at the noise floor
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np
import torch
from scipy import stats

from rfbench.metrics.frechet import frechet_distance, stats_from_features
from rfbench.metrics.frechet_bootstrap import FrechetBootstrap, fd_inf
from rfbench.metrics.uncertainty import (BootstrapPlan, Replicates, bootstrap_interval, compare, mean_replicates,
                                         sliced_w2_replicates, w2_replicates)


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def binom_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def means(reps: int) -> None:
    section(f"coverage of the mean, {reps} repetitions, B = 1000, 95 % nominal")
    rng = np.random.default_rng(2024)
    for dist, draw, truth in [("normal(1.5, 2^2)", lambda s: rng.normal(1.5, 2.0, s), 1.5),
                              ("exponential(1)", lambda s: rng.exponential(1.0, s), 1.0)]:
        for n in (20, 100, 500):
            data = draw((reps, n))
            counts = BootstrapPlan(n, 1000, 0).counts()
            rep = data @ counts.T / n
            est = data.mean(1)
            cov = {}
            for method in ("percentile", "basic", "bca"):
                cov[method] = np.mean([bootstrap_interval(est[k], rep[k], method=method,
                                                          influence=data[k] - est[k]).contains(truth)
                                       for k in range(reps)])
            print(f"  {dist:<18s} n={n:<4d} " + "  ".join(f"{m} {100 * c:5.1f} %" for m, c in cov.items())
                  + f"   (+-{100 * binom_se(0.95, reps):.1f} % binomial s.e.)")


def null(reps: int) -> None:
    section(f"paired p-values under the null, {reps} repetitions, n = 80, B = 999")
    rng = np.random.default_rng(5)
    n = 80
    plan = BootstrapPlan(n, 999, 0)
    counts = plan.counts()
    ps = {"percentile": [], "basic": [], "bca": [], "centred": []}
    for _ in range(reps):
        z = rng.standard_normal(n)
        a = np.exp(0.5 * z) + 0.3 * rng.standard_normal(n)
        b = np.exp(0.5 * z) + 0.3 * rng.standard_normal(n)
        ra = Replicates(a.mean(), counts @ a / n, plan, a - a.mean(), kind="mean")
        rb = Replicates(b.mean(), counts @ b / n, plan, b - b.mean(), kind="mean")
        for method in ps:
            ps[method].append(compare(ra, rb, method=method).p_value)
    for method, p in ps.items():
        p = np.array(p)
        print(f"  {method:<10s} rejection at 5 %: {100 * np.mean(p < 0.05):4.1f} %   at 1 %: "
              f"{100 * np.mean(p < 0.01):4.1f} %   KS vs uniform: p = {stats.kstest(p, 'uniform').pvalue:.3f}")


def pairing(reps: int) -> None:
    import rfbench
    from rfbench.metrics import per_sample_rmse
    from rfbench.models import get_model

    section("ref_rmse at NFE 8 on analytic-gmm-rf, same noise; BCa 95 %, B = 2000")
    model = get_model("analytic-gmm-rf").double()
    for n in (16, 32, 64, 128, 256):
        noise = model.sample_prior(n, seed=0, dtype=torch.float64)
        ref = rfbench.reference_solution(model, noise).x_end
        e = per_sample_rmse(rfbench.sample(model, "euler", 8, noise=noise).x, ref)
        h = per_sample_rmse(rfbench.sample(model, "heun", 8, noise=noise).x, ref)
        plan = BootstrapPlan(n, 2000, 0)
        re, rh = mean_replicates(e, plan), mean_replicates(h, plan)
        ie, ih, c = re.interval(), rh.interval(), compare(re, rh)
        print(f"  n={n:<4d} euler {ie.estimate:.4f} [{ie.lo:.4f}, {ie.hi:.4f}]  heun {ih.estimate:.4f} "
              f"[{ih.lo:.4f}, {ih.hi:.4f}]  overlap {'yes' if ie.lo <= ih.hi and ih.lo <= ie.hi else 'no '}  "
              f"paired euler-heun {c.difference:.4f} [{c.interval.lo:.4f}, {c.interval.hi:.4f}] p={c.p_value:.4f}  "
              f"width paired/unpaired {(c.interval.hi - c.interval.lo) / math.hypot(ie.hi - ie.lo, ih.hi - ih.lo):.2f}  "
              f"correlation {np.corrcoef(e.numpy(), h.numpy())[0, 1]:.2f}")
    n = 128
    samplers = ["euler", "heun", "dpm-solver++-2m", "dpm-solver-2", "rf-solver", "edm-heun", "ddim",
                "dpm-solver++-3m", "dpm-solver-3"]
    print(f"  all pairs of {len(samplers)} samplers at NFE 8, n = {n}:")
    noise = model.sample_prior(n, seed=0, dtype=torch.float64)
    ref = rfbench.reference_solution(model, noise).x_end
    plan = BootstrapPlan(n, 2000, 0)
    reps_ = {}
    for s in samplers:
        try:
            out = rfbench.sample(model, s, 8, noise=noise)
        except Exception as exc:  # noqa: BLE001 - a sampler that does not apply is reported
            print(f"    {s}: not run ({type(exc).__name__}: {exc})")
            continue
        reps_[s] = mean_replicates(per_sample_rmse(out.x, ref), plan)
    counts = {"pairs": 0, "unpaired overlap": 0, "paired excludes 0": 0, "overlap but paired excludes 0": 0}
    for a, b in itertools.combinations(reps_, 2):
        ia, ib, c = reps_[a].interval(), reps_[b].interval(), compare(reps_[a], reps_[b])
        overlap = ia.lo <= ib.hi and ib.lo <= ia.hi
        excl = not c.interval.contains(0.0)
        counts["pairs"] += 1
        counts["unpaired overlap"] += overlap
        counts["paired excludes 0"] += excl
        counts["overlap but paired excludes 0"] += overlap and excl
        if overlap and excl:
            print(f"    {a} {ia.estimate:.5f} [{ia.lo:.5f}, {ia.hi:.5f}] vs {b} {ib.estimate:.5f} "
                  f"[{ib.lo:.5f}, {ib.hi:.5f}]: paired {c.difference:+.5f} "
                  f"[{c.interval.lo:+.5f}, {c.interval.hi:+.5f}] p={c.p_value:.4f}")
    print("    " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


def _gaussian(d: int, shift: float, seed: int = 12345):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s_g = (q * np.geomspace(0.5, 2, d)) @ q.T
    s_r = np.diag(np.linspace(0.7, 1.5, d))
    mu_g, mu_r = np.full(d, shift / math.sqrt(d)), np.zeros(d)
    w, v = np.linalg.eigh(s_r)
    r = (v * np.sqrt(w)) @ v.T
    s = np.sqrt(np.linalg.eigvalsh(r @ s_g @ r))
    k = np.trace(s_g) + 0.5 * ((np.outer(s, s) / (s[:, None] + s[None, :])).sum() + 0.5 * s.sum())
    return rng, np.linalg.cholesky(s_g), mu_g, (mu_r, s_r), frechet_distance((mu_g, s_g), (mu_r, s_r)), k


def fd(reps: int) -> None:
    section(f"FD intervals (per-sample bootstrap, B = 400), {reps} repetitions: which value do they cover?")
    for d, n, shift in [(8, 200, 1.0), (8, 1000, 1.0), (16, 200, 1.5)]:
        rng, chol, mu_g, ref, true, k = _gaussian(d, shift)
        fds = np.array([frechet_distance(stats_from_features(mu_g + rng.standard_normal((n, d)) @ chol.T), ref)
                        for _ in range(4000)])
        expect = fds.mean()
        plan = BootstrapPlan(n, 400, 7)
        hits = {m: [0, 0] for m in ("percentile", "basic", "bca", "centred")}
        boot_bias = []
        sds = []
        for _ in range(reps):
            boot = FrechetBootstrap.from_features(mu_g + rng.standard_normal((n, d)) @ chol.T, ref)
            rep = boot.replicates(plan, jackknife=20)
            sds.append(rep.values.std())
            boot_bias.append(rep.values.mean() - rep.estimate)
            for m in hits:
                iv = rep.interval(m)
                hits[m][0] += iv.contains(true)
                hits[m][1] += iv.contains(expect)
        print(f"  d={d} N={n}: FD {true:.4f}, E[FD_N] {expect:.4f} (4000 draws), bias {expect - true:.4f} "
              f"(k/N = {k / n:.4f}), mean bootstrap bias estimate {np.mean(boot_bias):.4f}, sd(FD_N) {fds.std():.4f}, "
              f"mean bootstrap sd {np.mean(sds):.4f}")
        for m, (a, b) in hits.items():
            print(f"    {m:<10s} covers FD {100 * a / reps:5.1f} %   covers E[FD_N] {100 * b / reps:5.1f} %")


def bias(reps: int) -> None:
    section(f"E[FD_N] - FD against the Gaussian second-order law k / N, {reps} draws per N (d = 16)")
    rng, chol, mu_g, ref, true, k = _gaussian(16, 1.0, seed=0)
    print(f"  FD = {true:.4f}, k = {k:.3f}")
    for n in (100, 250, 1000, 4000):
        fds = np.array([frechet_distance(stats_from_features(mu_g + rng.standard_normal((n, 16)) @ chol.T), ref)
                        for _ in range(reps)])
        print(f"  N={n:<5d} E[FD_N] - FD = {fds.mean() - true:.5f} +- {fds.std(ddof=1) / math.sqrt(reps):.5f}"
              f"   k/N = {k / n:.5f}")


DRAWS_SEED: int | None = None  # --draws-seed: other random draws of the data (the problem is unchanged)


def fdinf(reps: int) -> None:
    section(f"FD_inf (15 sizes from N/10 to N, blocks of 20), {reps} repetitions, B = 100 (d = 16)")
    rng, chol, mu_g, ref, true, k = _gaussian(16, 1.0, seed=1)
    if DRAWS_SEED is not None:
        rng = np.random.default_rng(DRAWS_SEED)
        print(f"  data drawn with seed {DRAWS_SEED}")
    for n in (2000, 4000):
        est, fdn, hit, hit_k, width = [], [], 0, 0, []
        for r in range(reps):
            boot = FrechetBootstrap.from_features(mu_g + rng.standard_normal((n, 16)) @ chol.T, ref, block_size=20)
            res = fd_inf(boot, plan=BootstrapPlan(boot.K, 100, r))
            est.append(res.estimate)
            fdn.append(res.fds[-1])
            hit += res.interval.contains(true)
            hit_k += res.slope_interval.contains(k)
            width.append(res.interval.hi - res.interval.lo)
        est, fdn = np.array(est), np.array(fdn)
        print(f"  N={n}: FD {true:.4f}; mean FD_N - FD {fdn.mean() - true:+.4f} (k/N {k / n:.4f}); mean FD_inf - FD "
              f"{est.mean() - true:+.4f} +- {est.std(ddof=1) / math.sqrt(reps):.4f}; sd FD_N {fdn.std(ddof=1):.4f}, "
              f"sd FD_inf {est.std(ddof=1):.4f}, mean interval width / 3.92 {np.mean(width) / 3.92:.4f}; "
              f"coverage FD {100 * hit / reps:.1f} %, slope k {100 * hit_k / reps:.1f} %")


def w2(reps: int) -> None:
    section("W2 and sliced W2 replicates: exact vs first-order, n = 500 samples vs 500 held-out points, B = 200")
    g = torch.Generator().manual_seed(3)
    y = torch.randn(500, 2, generator=g, dtype=torch.float64)
    for label, x in [("shifted (W2 well above the floor)", torch.randn(500, 2, generator=g, dtype=torch.float64) + 0.3),
                     ("same distribution (at the noise floor)", torch.randn(500, 2, generator=g, dtype=torch.float64))]:
        plan = BootstrapPlan(500, 200, 0)
        for name, exact, linear in [
            ("w2", lambda: w2_replicates(x, y, plan), lambda: w2_replicates(x, y, plan, method="linear")),
            ("sw2", lambda: sliced_w2_replicates(x, y, plan, jackknife=None),
             lambda: sliced_w2_replicates(x, y, plan, method="linear")),
        ]:
            t = time.process_time()
            ex = exact()
            t_ex = time.process_time() - t
            t = time.process_time()
            li = linear()
            t_li = time.process_time() - t
            pe, pl = ex.interval("percentile"), li.interval("percentile")
            print(f"  {label}, {name} = {ex.estimate:.4f}: sd exact {ex.values.std():.4f} linear "
                  f"{li.values.std():.4f}; "
                  f"mean replicate - estimate: exact {ex.values.mean() - ex.estimate:+.4f}, linear "
                  f"{li.values.mean() - li.estimate:+.4f}; correlation {np.corrcoef(ex.values, li.values)[0, 1]:.3f}; "
                  f"percentile exact [{pe.lo:.4f}, {pe.hi:.4f}] linear [{pl.lo:.4f}, {pl.hi:.4f}]; "
                  f"cpu {t_ex:.1f} s vs {t_li:.2f} s")


SECTIONS = {"means": (means, 400), "null": (null, 400), "pairing": (pairing, 0), "fd": (fd, 200),
            "bias": (bias, 2000), "fdinf": (fdinf, 100), "w2": (w2, 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default per section)")
    ap.add_argument("--draws-seed", type=int, default=None, help="fdinf: draw the features with this seed")
    args = ap.parse_args()
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; expected any of {', '.join(SECTIONS)}")
    global DRAWS_SEED
    DRAWS_SEED = args.draws_seed
    torch.set_num_threads(1)
    for name in args.sections or list(SECTIONS):
        fn, reps = SECTIONS[name]
        start = time.perf_counter()
        fn(args.reps or reps)
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
