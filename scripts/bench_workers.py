"""One worker vs two workers on one store, and the per-cell cost of claims (issue 13).

    python scripts/bench_workers.py [--samplers euler,heun,dpm-solver-2] [--nfe 1,2,4,8] [--repeats 200]

Runs a reduced digits sweep (the --smoke model: 1-rf on digits, 30 training steps; the given
samplers and NFEs; the suite's metrics: ref_rmse, psnr, lpips, fd_digits, straightness, wall clock)
once to fill the cache (model, classifier, references: shared work, not timed), then into a fresh
folder with one `rfbench run` process and into another with two concurrent ones, and prints cells
per minute for each (wall clock from start to the last process's exit, process start-up included).
The claim overhead is timed directly: acquire + release of a claim in a store folder, per cell.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_workers(n: int, out: Path, argv: list[str]) -> float:
    cmd = [sys.executable, "-m", "rfbench", "run", "digits", "--smoke", *argv, "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            sys.exit(f"worker failed: {err[-2000:]}")
    return time.perf_counter() - start


def claim_overhead(folder: Path, repeats: int) -> float:
    from rfbench.runner.claims import Claims

    claims = Claims(folder)
    start = time.perf_counter()
    for i in range(repeats):
        c = claims.acquire(f"cell{i}", folder / f"cell{i}.json")
        claims.release(c)
    claims.close()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samplers", default="euler,heun,ddim,dpm-solver-2")
    ap.add_argument("--nfe", default="2,4,8")
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    argv = ["--samplers", args.samplers, "--nfe", args.nfe]
    with tempfile.TemporaryDirectory(prefix="rfbench-bench-workers-") as tmp:
        tmp = Path(tmp)
        print("warming the cache (model, classifier, references; not timed) ...", flush=True)
        run_workers(1, tmp / "warm", argv)
        n_cells = len(list((tmp / "warm" / "cells").glob("*.json")))
        cell_s = [json.loads(p.read_text())["row"].get("cell_seconds", 0.0) for p in (tmp / "warm" / "cells").glob("*.json")]
        results = {}
        for n in (1, 2):
            print(f"{n} worker(s) ...", flush=True)
            results[n] = run_workers(n, tmp / f"w{n}", argv)
            got = len(list((tmp / f"w{n}" / "cells").glob("*.json")))
            assert got == n_cells, f"{n} workers recorded {got} of {n_cells} cells"
        per_claim = claim_overhead(tmp / "claims", args.repeats)
    print(f"\nreduced digits sweep: {n_cells} cells ({args.samplers} at NFE {args.nfe}), machine with "
          f"{__import__('os').cpu_count()} CPU(s)")
    for n, s in results.items():
        print(f"  {n} worker(s): {s:6.1f} s wall, {60 * n_cells / s:6.1f} cells/minute")
    print(f"  speed-up 2 vs 1: {results[1] / results[2]:.2f}x")
    mean_cell = sum(cell_s) / len(cell_s)
    print(f"  claim acquire + release: {1e3 * per_claim:.2f} ms per cell ({args.repeats} claims); mean cell "
          f"{mean_cell:.2f} s -> {100 * per_claim / mean_cell:.3f} % of a cell")


if __name__ == "__main__":
    main()
