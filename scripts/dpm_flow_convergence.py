"""Print how DPM-Solver variants converge on the whole flow interval [0, 1], per grid.

On `analytic-gmm-rf` (exact velocity, float64, 64 noises of seed 0) for each grid and sampler:
ref_rmse per NFE, the fitted slope over the last three NFE values, and the error scaled three ways,
err x N^q, err x N^q / ln N and err x (N / ln N)^q (q = the sampler's order, at most 2), each with
its spread (max/min - 1) over the last four NFE values: the law that holds is the one whose scaled
error is constant. Then third-order samplers on explicit t-uniform grids over [0.98, 0.02] (finite
lambda at both ends) against the reference of the ODE on that interval.

    python scripts/dpm_flow_convergence.py [--nfe 96,192,384,768,1536] [--explicit-nfe 96,192,384,768] [--n 64]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import rfbench
from rfbench.metrics import ref_rmse
from rfbench.metrics.convergence import fit_order, measure_convergence
from rfbench.models import get_model
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW
from rfbench.samplers import get_sampler

GRIDS = {
    "logsnr": ["dpm-solver-1", "dpm-solver-2", "dpm-solver-2m", "dpm-solver++-2m", "dpm-solver-3",
               "dpm-solver++-3m-corrected"],
    "uniform": ["dpm-solver++-1", "dpm-solver++-2s", "dpm-solver++-2m", "dpm-solver++-3s",
                "dpm-solver++-3m-corrected"],
}
EXPLICIT = ["dpm-solver-3", "dpm-solver++-3s", "dpm-solver-3m-corrected", "dpm-solver++-3m-corrected"]


def _spread(values: list[float]) -> float:
    tail = values[-4:]
    return max(tail) / min(tail) - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nfe", default="96,192,384,768,1536", help="comma-separated NFE values")
    ap.add_argument("--explicit-nfe", default="96,192,384,768", help="NFE values on the explicit grids")
    ap.add_argument("--n", type=int, default=64, help="number of noises")
    args = ap.parse_args()
    nfes = [int(v) for v in args.nfe.split(",")]
    explicit_nfes = [int(v) for v in args.explicit_nfe.split(",")]
    start = time.perf_counter()
    model = get_model("analytic-gmm-rf").double()
    for grid, samplers in GRIDS.items():
        print(f"\n[0, 1], grid {grid}: NFE {nfes}")
        for sampler in samplers:
            res = measure_convergence(model, sampler, nfes, n=args.n, grid=grid)
            q = min(get_sampler(sampler).order, 2)
            print(f"  {sampler:27s} slope {res.order:.2f}  err " + " ".join(f"{e:.3e}" for e in res.errors))
            for label, scale in ((f"N^{q}", lambda n: n**q), (f"N^{q}/ln N", lambda n: n**q / math.log(n)),
                                 (f"(N/ln N)^{q}", lambda n: (n / math.log(n)) ** q)):
                scaled = [e * scale(n) for n, e in zip(nfes, res.errors)]
                print(f"  {'':27s} err x {label:11s} " + " ".join(f"{v:.4g}" for v in scaled)
                      + f"  (spread {_spread(scaled):.1%})", flush=True)

    inner = AnalyticGMM(None, FLOW, t_min=0.02, name="analytic-gmm-rf on [0.02, 0.98]").double()
    inner.t_max = 0.98
    noise = inner.sample_prior(args.n, seed=0)
    ref = rfbench.reference_solution(inner, noise, rtol=1e-12, atol=1e-12).x_end
    print(f"\nexplicit t-uniform grid over [0.98, 0.02] (finite lambda at both ends): NFE {explicit_nfes}")
    for sampler in EXPLICIT:
        errors = []
        for nfe in explicit_nfes:
            steps = nfe - 1 if sampler.endswith("corrected") else nfe  # corrected 3M: NFE = steps + 1
            times = torch.linspace(0.98, 0.02, steps + 1, dtype=torch.float64)
            out = rfbench.sample(model, sampler, nfe, noise=noise, grid="explicit", grid_options={"times": times})
            errors.append(ref_rmse(out.x, ref))
        slope = fit_order(explicit_nfes, errors)
        print(f"  {sampler:27s} slope {slope:.2f}  err " + " ".join(f"{e:.2e}" for e in errors), flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
