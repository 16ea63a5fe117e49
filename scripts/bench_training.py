"""Training budget of the model catalogue on this machine: time to train each model from a cold cache
(its own training plus solving its pairs; parents are trained first and not counted) and time to load it
from the warm cache afterwards.

    python scripts/bench_training.py                       # 2-D (8gaussians) and digits, every model
    python scripts/bench_training.py --data 8gaussians --models 1-rf,2-rf
    python scripts/bench_training.py --cache ~/.cache/rfbench   # measure cache hits of an existing cache

Budgets (issue 4): every 2-D model under 90 s, every digits model under 6 min, on 2 CPU cores. The
script prints the machine's load average too: timings taken while other work runs are not budgets.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUDGET_S = {"vector": 90.0, "image": 360.0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="8gaussians,digits")
    p.add_argument("--models", default=None, help="comma-separated (default: the whole trained catalogue)")
    p.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one, i.e. cold)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    os.environ["RFBENCH_CACHE"] = args.cache or tempfile.mkdtemp(prefix="rfbench-bench-training-")
    torch.set_num_threads(args.threads)
    from rfbench.data import get_dataset
    from rfbench.models import get_model
    from rfbench.training.recipes import FAMILIES, make_recipe

    names = args.models.split(",") if args.models else list(FAMILIES)
    print(f"cache {os.environ['RFBENCH_CACHE']}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    rows = []
    for data in args.data.split(","):
        kind = "image" if len(get_dataset(data).shape) == 3 else "vector"
        for name in names:  # catalogue order puts parents before children
            recipe = make_recipe(name, data)
            start, cpu = time.perf_counter(), time.process_time()
            model = get_model(name, data=data, device=args.device, progress=True)
            wall = time.perf_counter() - start
            meta = model.meta
            # for a cache hit these are the times recorded in the checkpoint when it was trained
            own = meta.get("seconds", 0.0) + meta.get("pairs_seconds", 0.0)
            rows.append({"data": data, "model": name, "steps": recipe.steps, "hit": meta["cache_hit"], "own_s": own,
                         "train_s": meta.get("seconds", 0.0), "pairs_s": meta.get("pairs_seconds", 0.0),
                         "wall_s": wall, "cpu_s": time.process_time() - cpu, "budget_s": BUDGET_S[kind],
                         "load": os.getloadavg()[0]})
            r = rows[-1]
            what = f"{'cached (recorded: ' if r['hit'] else 'trained '}{r['train_s']:.1f} s + pairs {r['pairs_s']:.1f} s" \
                   + (")" if r["hit"] else "")
            print(f"  {data:>10} {name:<20} {what}", flush=True)
        for r in rows:
            if r["data"] != data:
                continue
            start = time.perf_counter()
            model = get_model(r["model"], data=data, progress=False)
            r["hit_load_s"] = time.perf_counter() - start
            assert model.meta["cache_hit"], "a second load must hit the cache"

    print()
    print(f"{'data':>10}  {'model':<20} {'steps':>6} {'train s':>8} {'pairs s':>8} {'own s':>8} {'budget':>7} "
          f"{'under':>6} {'cached load s':>13} {'load avg':>8}")
    for r in rows:
        under = ("yes" if r["own_s"] < r["budget_s"] else "NO") + ("*" if r["hit"] else "")
        print(f"{r['data']:>10}  {r['model']:<20} {r['steps']:>6} {r['train_s']:>8.1f} {r['pairs_s']:>8.1f} "
              f"{r['own_s']:>8.1f} {r['budget_s']:>7.0f} {under:>6} {r['hit_load_s']:>13.3f} {r['load']:>8.1f}")
    print("\nown s = this model's training + pair solving (its parent's training is counted on the parent's row); "
          "* = the model was already cached: the times are those recorded when it was trained (on whatever "
          "machine and load that was).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
