"""Print what error bars cost: seconds for B bootstrap replicates of each metric kind.

    python scripts/bench_uncertainty.py [--quick] [--device cuda] [--n2d 1000 2000] [--b-exact 200]
                                        [--fid-n 10000 50000] [--fid-B 100] [--fid-inf-B 2]
                                        [--digits-warm-s S --digits-cells C]
    python scripts/bench_uncertainty.py --digits-run [--digits-samplers euler,heun,...] [--digits-off]

* a digits-sized cell: 128 samples; three per-sample means (ref_rmse, psnr, lpips) with B = 1000;
  fd_digits with d = the digits classifier's feature dimension (synthetic ReLU features, 360
  reference features), B = 200 replicates and their (centred) interval. With --digits-warm-s
  and --digits-cells (a measured warm time of the digits suite and its cell count) it prints the
  share of that time the intervals would add (target < 10 %); for scale it also times the digits
  U-Net (catalogue architecture, untrained, one thread) on a batch of 128 at the suite's mean NFE.
* a 2-D cell: exact W2 and sliced W2 (512 projections) between n samples and n held-out points
  (n = 1,000 and 2,000); exact replicates (B = 200) and the first-order "linear" ones (B = 1000).
* FID-size statistics (n = 10,000 and 50,000): a per-sample mean over all n samples (B = 1000);
  n synthetic 2048-d features in 50 blocks, B replicates of the Fréchet distance (one 2048 x 2048
  eigendecomposition each) and --fid-inf-B bootstrap fits of FD_inf (15 distances per fit).

* ``--digits-run``: the wired cost in the product: a digits sweep (the suite's cell size and NFE
  list); prints the seconds spent in the interval step (each row's ``intervals_s``) as a share of
  the cells' time and of the run's wall time (target < 10 %).

Both wall-clock and process CPU seconds are printed (the CPU figure is less sensitive to other
jobs on a shared machine), with the load average before and after. Each timed call follows an
untimed warm-up (imports of scipy.stats and POT).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from rfbench.metrics.digits_classifier import DigitsClassifierConfig
from rfbench.metrics.frechet import FeatureStats, frechet_distance, stats_from_features
from rfbench.metrics.frechet_bootstrap import BlockAccumulator, FrechetBootstrap, fd_inf
from rfbench.metrics.uncertainty import BootstrapPlan, mean_replicates, sliced_w2_replicates, w2_replicates


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def line(name: str, clock: Clock, per: int | None = None) -> None:
    extra = (f"   per replicate (fit) {clock.wall / per * 1e3:9.2f} ms wall, {clock.cpu / per * 1e3:9.2f} ms cpu"
             if per else "")
    print(f"  {name:<58s} {clock.wall:9.3f} s wall {clock.cpu:9.3f} s cpu{extra}", flush=True)


def digits_cell(args) -> float:
    d = DigitsClassifierConfig().feat_dim
    print(f"digits-sized cell: 128 samples, fd_digits on {d}-d features vs 360 reference features")
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    ref = stats_from_features(np.maximum(rng.standard_normal((360, d)) @ mix + 0.2, 0))
    x = np.maximum(rng.standard_normal((128, d)) @ mix + 0.25, 0)
    total = cpu_total = 0.0
    with Clock() as c:
        BootstrapPlan(128, 1000, 0).counts()
    line("resampling plan, B=1000 (once per noise seed)", c)
    mean_replicates(rng.random(128), BootstrapPlan(128, 1000, 0)).interval("bca")  # warm-up (scipy.stats import)
    with Clock() as c:
        for _ in range(3):
            mean_replicates(rng.random(128), BootstrapPlan(128, 1000, 0)).interval("bca")
    line("3 per-sample means + BCa intervals, B=1000", c, 3 * 1000)
    total, cpu_total = total + c.wall, cpu_total + c.cpu
    FrechetBootstrap.from_features(x, ref, device=args.device).replicates(BootstrapPlan(128, 2, 0))  # warm-up
    with Clock() as c:
        fd = frechet_distance(stats_from_features(x), ref)
    line(f"the point fd_digits itself (for scale; {fd:.3f})", c)
    with Clock() as c:
        FrechetBootstrap.from_features(x, ref, device=args.device).replicates(BootstrapPlan(128, 200, 0)).interval()
    line("fd_digits replicates B=200 + centred interval", c, 200)
    total, cpu_total = total + c.wall, cpu_total + c.cpu
    print(f"  intervals per digits cell: {total:.3f} s wall, {cpu_total:.3f} s cpu")
    # for scale, in the same conditions: the digits U-Net (the catalogue's architecture, untrained
    # weights: the cost does not depend on them) on a batch of 128, at the suite's mean grid NFE
    from rfbench.models.nets import build_network
    from rfbench.training.recipes import default_net

    net = build_network(*default_net((1, 8, 8))).eval()
    xb, tb = torch.randn(128, 1, 8, 8), torch.full((128,), 0.5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread, like the Fréchet replicates: CPU seconds compare like with like
    with torch.no_grad():
        net(xb, tb)
        with Clock() as c:
            for _ in range(10):
                net(xb, tb)
    torch.set_num_threads(threads)
    nfe = float(np.mean([1, 2, 3, 4, 6, 8, 12, 16]))
    print(f"  digits U-Net forward, batch 128, one thread: {c.cpu / 10:.4f} s cpu; x {nfe:g} (the suite's mean NFE) "
          f"= {c.cpu / 10 * nfe:.3f} s cpu per cell for sampling alone; intervals / sampling = "
          f"{100 * cpu_total / (c.cpu / 10 * nfe):.0f} % (cpu)")
    if args.digits_warm_s and args.digits_cells:
        share = total * args.digits_cells / args.digits_warm_s
        print(f"  x {args.digits_cells} cells = {total * args.digits_cells:.1f} s = {100 * share:.1f} % of the given "
              f"warm time {args.digits_warm_s:g} s (target < 10 %)")
    return total


def two_d_cell(args, n: int) -> None:
    print(f"2-D cell: {n} samples vs {n} held-out points")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64) * 1.1
    y = torch.randn(n, 2, generator=g, dtype=torch.float64) + 0.2
    b_exact = args.b_exact
    w2_replicates(x[:50], y[:50], BootstrapPlan(50, 2, 0))  # warm-up (imports POT)
    sliced_w2_replicates(x[:50], y[:50], BootstrapPlan(50, 2, 0))
    for name, fn, B in [
        ("w2 exact", lambda p: w2_replicates(x, y, p), b_exact),
        ("w2 linear", lambda p: w2_replicates(x, y, p, method="linear"), 1000),
        ("sw2 exact", lambda p: sliced_w2_replicates(x, y, p), b_exact),
        ("sw2 linear", lambda p: sliced_w2_replicates(x, y, p, method="linear"), 1000),
    ]:
        plan = BootstrapPlan(n, B, 0)
        plan.counts()
        with Clock() as c:
            fn(plan)
        line(f"{name}, B={B} (with the one point solve)", c, B)


def fid_size(args) -> None:
    d, blocks = 2048, 50
    for n in args.fid_n:
        print(f"FID-size: {n} synthetic {d}-d features in {blocks} blocks of {n // blocks}, device {args.device}")
        rng = np.random.default_rng(1)
        with Clock() as c:
            mean_replicates(rng.random(n), BootstrapPlan(n, 1000, 0))
        line(f"a per-sample mean over all {n} samples (plan counts made in chunks)", c, 1000)
        scale = rng.uniform(0.05, 1.0, d)
        mix = rng.standard_normal((64, d)) * 0.3
        ref_sigma = np.diag(scale**2) + mix.T @ mix * 1.1
        ref = FeatureStats(np.full(d, 0.3), ref_sigma, 50_000)
        acc = BlockAccumulator(n // blocks)
        with Clock() as c:
            for _ in range(blocks):  # features are generated block by block (50k x 2048 never held)
                z = rng.standard_normal((n // blocks, d))
                acc.update(0.35 + z * scale + z[:, :64] @ mix)
        line("block statistics (the same d^2 work as FID's streaming statistics)", c)
        with Clock() as c:
            boot = FrechetBootstrap(acc.blocks(), ref, device=args.device)
        line("setup: reference square root, R W_k R per block", c)
        with Clock() as c:
            boot.estimate()
        line("one FD by the eigenvalue route", c)
        plan = BootstrapPlan(blocks, args.fid_B, 0)
        with Clock() as c:
            boot.replicates(plan, jackknife=None)
        line(f"FD replicates, B={args.fid_B}", c, args.fid_B)
        if args.fid_inf_B:
            with Clock() as c:
                fd_inf(boot, plan=BootstrapPlan(blocks, args.fid_inf_B, 0))
            line(f"FD_inf: the fit and B={args.fid_inf_B} bootstrap fits (15 FDs each)", c, args.fid_inf_B + 1)
        del boot, acc


def digits_run(args) -> None:
    """The wired cost: a digits sweep at the suite's cell size (128 samples, its 8 NFE values) with
    error bars on; every cell's ``intervals_s`` (the interval step) against its ``cell_seconds`` and
    against the run's wall time. The first cell builds the caches (training, the reference) when
    they are cold and is left out of the per-cell share. The model is the smoke configuration's 1-rf
    (30 training steps): a cell's cost is the U-Net's, which does not depend on training; LPIPS is
    timed only where AlexNet's weights are installed (without it a cell is cheaper, so the share
    printed is then an upper bound). ``--digits-off`` repeats the sweep with error bars off."""
    import tempfile

    from rfbench.runner import run_suite
    from rfbench.runner.intervals import DEFAULT_SETTINGS, OFF

    samplers = args.digits_samplers.split(",")
    kw = dict(smoke=True, n_samples=128, nfe=[1, 2, 3, 4, 6, 8, 12, 16], samplers=samplers, progress=False,
              force=True)
    print(f"digits sweep: {len(samplers)} samplers x 8 NFE, 128 samples per cell (smoke 1-rf), error bars "
          f"B={DEFAULT_SETTINGS.B} (means), B={DEFAULT_SETTINGS.B_frechet} (fd_digits)")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("on", DEFAULT_SETTINGS)] + ([("off", OFF)] if args.digits_off else [])
        walls = {}
        for name, setting in runs:
            with Clock() as c:
                res = run_suite("digits", out=f"{tmp}/{name}", intervals=setting, **kw)
            walls[name] = c.wall
            line(f"run, error bars {name} ({len(res['frame'])} cells)", c)
            if name != "on":
                continue
            df = res["frame"]
            first = df["cell_seconds"].idxmax()
            rest = df.drop(index=first)
            spent, cells = float(rest["intervals_s"].sum()), float(rest["cell_seconds"].sum())
            print(f"  interval step per cell: median {df['intervals_s'].median():.3f} s, max "
                  f"{df['intervals_s'].max():.3f} s")
            print(f"  {len(rest)} cells (the slowest, {df['cell_seconds'][first]:.1f} s, left out: it may have built "
                  f"the caches): intervals {spent:.2f} s of {cells:.1f} s cell time = {100 * spent / cells:.1f} % "
                  f"(target < 10 %)")
            print(f"  all cells: {float(df['intervals_s'].sum()):.2f} s of the run's {c.wall:.1f} s wall = "
                  f"{100 * float(df['intervals_s'].sum()) / c.wall:.1f} %")
        if "off" in walls:
            print(f"  wall on vs off: {walls['on']:.1f} s vs {walls['off']:.1f} s (noisy on a shared machine)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="B=20 for exact W2/SW2, FID at n=10000 with B=5")
    ap.add_argument("--n2d", type=int, nargs="*", default=[1000, 2000], help="2-D cell sizes (default 1000 2000)")
    ap.add_argument("--b-exact", type=int, default=None, help="replicates of exact W2/SW2 (default 200, quick 20)")
    ap.add_argument("--device", default="cpu", help="where Fréchet eigendecompositions run")
    ap.add_argument("--fid-n", type=int, nargs="*", default=None, help="FID-size sample counts (default 10000 50000)")
    ap.add_argument("--fid-B", type=int, default=None, help="FD replicates at FID size (default 100)")
    ap.add_argument("--fid-inf-B", type=int, default=2, help="FD_inf bootstrap replicates timed (0: skip)")
    ap.add_argument("--digits-warm-s", type=float, default=None, help="a measured warm time of the digits suite (s)")
    ap.add_argument("--digits-cells", type=int, default=None, help="the number of cells of that run")
    ap.add_argument("--digits-run", action="store_true", help="only the wired cost: digits sweeps with error bars on/off")
    ap.add_argument("--digits-samplers", default="euler,heun,dpm-solver++-2m",
                    help="samplers of --digits-run")
    ap.add_argument("--digits-off", action="store_true", help="--digits-run: also the sweep with error bars off")
    args = ap.parse_args()
    if args.digits_run:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
        digits_run(args)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        return
    args.fid_n = args.fid_n if args.fid_n is not None else ([10_000] if args.quick else [10_000, 50_000])
    args.fid_B = args.fid_B or (5 if args.quick else 100)
    args.b_exact = args.b_exact or (20 if args.quick else 200)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    digits_cell(args)
    for n in args.n2d:
        two_d_cell(args, n)
    fid_size(args)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
