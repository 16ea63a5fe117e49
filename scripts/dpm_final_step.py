"""The DPM-Solver(++) multistep final-step measurement of docs/dpm-solver.md ("NFE 8 beats NFE 16").

    python scripts/dpm_final_step.py            # prints the Markdown tables (about a minute on one core)

ref_rmse against a float64 dopri5 solve (rtol = atol = 1e-10) from the same 500 noises (seed 0), on the
exact VP Gaussian-mixture oracle (analytic-gmm-vp), sampled in float64.
"""

from __future__ import annotations

import torch

import rfbench
from rfbench.metrics import ref_rmse
from rfbench.models.grids import make_grid

NFE = [4, 6, 8, 10, 12, 16, 24, 32, 64, 128]
SAMPLERS = ["dpm-solver++-2m", "dpm-solver++-3m", "dpm-solver-2m", "dpm-solver-3m"]
RULES = [("uniform", True, "official (below 10 steps)"), ("uniform", False, "never"),
         ("uniform", "always", "always"), ("logsnr", True, "official (below 10 steps)")]


def main() -> None:
    torch.set_num_threads(1)
    model = rfbench.models.get_model("analytic-gmm-vp")
    noise = model.sample_prior(500, seed=0, dtype=torch.float64)
    ref = rfbench.reference_solution(model.double(), noise, rtol=1e-10, atol=1e-10, dtype=torch.float64).x_end
    print("| sampler | grid | lower-order final steps | " + " | ".join(f"NFE {n}" for n in NFE) + " |")
    print("|---|---|---|" + "---|" * len(NFE))
    for sampler in SAMPLERS:
        for grid, rule, label in RULES:
            errs = [ref_rmse(rfbench.sample(model, sampler, nfe=n, noise=noise, grid=grid, lower_order_final=rule).x,
                             ref) for n in NFE]
            print(f"| {sampler} | {grid} | {label} | " + " | ".join(f"{e:.3g}" for e in errs) + " |", flush=True)
    print("\n| steps | grid | last step in lambda | the step before | ratio |\n|---|---|---|---|---|")
    for n in (8, 16, 32):
        for grid in ("uniform", "logsnr"):
            lam = model.schedule.log_snr(make_grid(grid, n, model).double())
            h = lam[1:] - lam[:-1]
            print(f"| {n} | {grid} | {h[-1]:.2f} | {h[-2]:.2f} | {h[-1] / h[-2]:.1f} |")


if __name__ == "__main__":
    main()
