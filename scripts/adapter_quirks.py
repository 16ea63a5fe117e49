"""Measure the library adapters' quirks and convergence on the analytic oracles (docs/adapters.md).

For each adapter entry and model: RMSE to the float64 dopri5 reference (rtol 1e-11) at several NFE, the
slopes between successive NFE, where the library starts (its largest noise level as model time) and the
error floor that start alone causes (the exact solution from the same noise placed at that time instead
of t_max), and the effect of diffusers' float32 sigma table (``sigmas_dtype="library"``).

    python scripts/adapter_quirks.py [--n 512] [--nfe 16,32,64,128,256]
"""

from __future__ import annotations

import argparse
import math
import warnings

import torch

import rfbench
from rfbench.models import get_model
from rfbench.samplers import solve_ode

ENTRIES = ["diffusers:UniPCMultistepScheduler", "diffusers:DPMSolverMultistepScheduler",
           "diffusers:FlowMatchEulerDiscreteScheduler", "diffusers:FlowMatchHeunDiscreteScheduler",
           "diffusers:DDIMScheduler", "diffusers:EulerDiscreteScheduler", "diffusers:IPNDMScheduler",
           "k-diffusion:dpmpp_2m", "k-diffusion:heun"]


def rmse(a, b) -> float:
    return float((a - b).pow(2).sum(1).mean().sqrt())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--nfe", default="16,32,64,128,256")
    ap.add_argument("--models", default="analytic-gmm-rf,analytic-gmm-vp")
    ap.add_argument("--entries", default=",".join(ENTRIES))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    nfes = [int(v) for v in args.nfe.split(",")]
    for name in args.models.split(","):
        model = get_model(name)
        noise = model.sample_prior(args.n, seed=3, dtype=torch.float64)
        ref = rfbench.sample(model, "dopri5", None, noise=noise, rtol=1e-11, atol=1e-11).x
        print(f"== {name} (n = {args.n}, reference dopri5 rtol 1e-11)")
        for entry in args.entries.split(","):
            try:
                outs = [rfbench.sample(model, entry, n, noise=noise) for n in nfes]
            except Exception as exc:  # noqa: BLE001  (a library that is not installed)
                print(f"{entry:<44} skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
                continue
            errs = [rmse(o.x, ref) for o in outs]
            slopes = [math.log(errs[i] / errs[i + 1]) / math.log(outs[i + 1].nfe_measured / outs[i].nfe_measured)
                      for i in range(len(outs) - 1)]
            t0 = float(outs[-1].ts[0])
            floor = ""
            if t0 < model.t_max:  # the error of the start alone: the exact flow from the noise placed at t0
                shifted = solve_ode(model, noise, [t0, model.t_min], rtol=1e-11, atol=1e-11)[-1]
                floor = f"  start floor {rmse(shifted, ref):.2e}"
            print(f"{entry:<44} " + " ".join(f"{o.nfe_measured}:{e:.2e}" for o, e in zip(outs, errs))
                  + "  slopes " + " ".join(f"{s:.2f}" for s in slopes) + f"  start t={t0:.6g}{floor}")
            if entry.startswith("diffusers:"):
                lib = rfbench.sample(model, entry, nfes[1], noise=noise, sigmas_dtype="library")
                print(f"{'':<44} float32 sigmas (sigmas_dtype='library') at NFE {outs[1].nfe_measured}: "
                      f"RMSE {rmse(lib.x, ref):.3e} vs {errs[1]:.3e}, difference {rmse(lib.x, outs[1].x):.2e}")


if __name__ == "__main__":
    main()
