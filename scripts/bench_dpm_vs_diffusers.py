"""rfbench's DPM-Solver++(2M) loop against diffusers' DPMSolverMultistepScheduler loop, side by side.

Same model (the trained 1-RF MLP on 8gaussians, float32), same NFE, same time grid (diffusers'
flow sigmas 0.999 (1 - i/N), then 0, passed to rfbench as an explicit grid), same noise. For each
batch size the script prints the largest absolute difference of the two outputs and the
per-sample wall clock of each loop (interleaved repeats; minimum and median), and the ratio
diffusers / rfbench (target: >= 1.2 at small batch, where per-step overhead dominates).

Both loops call the network through the same rfbench model (``model.velocity``), so the
difference is solver overhead: rfbench's plan, grid and per-step coefficients (precomputed as
Python floats) versus diffusers' set_timesteps and per-step scheduler bookkeeping.

    python scripts/bench_dpm_vs_diffusers.py [--nfe 10] [--batches 1,16,256,4096] [--repeats 30] [--order 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rfbench
from rfbench.models import get_model


def diffusers_loop(model, noise: torch.Tensor, nfe: int, order: int) -> torch.Tensor:
    from diffusers import DPMSolverMultistepScheduler

    sched = DPMSolverMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
                                        algorithm_type="dpmsolver++", solver_order=order)
    sched.set_timesteps(nfe)
    x = noise
    for i, timestep in enumerate(sched.timesteps):
        v = model.velocity(x, float(sched.sigmas[i]))  # diffusers' flow sigma = rfbench t, v = noise - data
        x = sched.step(v, timestep, x).prev_sample
    return x


def diffusers_sigmas(nfe: int) -> list[float]:
    from diffusers import DPMSolverMultistepScheduler

    sched = DPMSolverMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
                                        algorithm_type="dpmsolver++")
    sched.set_timesteps(nfe)
    return sched.sigmas.double().tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nfe", type=int, default=10)
    ap.add_argument("--batches", default="1,16,256,4096")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--order", type=int, default=2, choices=(2, 3))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    model = get_model("1-rf", data="8gaussians", progress=False).to(device).eval()
    sampler = "dpm-solver++-2m" if args.order == 2 else "dpm-solver++-3m"
    times = diffusers_sigmas(args.nfe)

    def ours(noise):
        return rfbench.sample(model, sampler, args.nfe, noise=noise, grid="explicit",
                              grid_options={"times": times}).x

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    print(f"DPM-Solver++ ({args.order}M) on the 1-RF MLP, float32, {device} ({torch.get_num_threads()} threads), "
          f"NFE {args.nfe}, diffusers' flow-sigma grid; {args.repeats} interleaved repeats")
    print(f"{'batch':>6} {'max |diff|':>11} {'rfbench us/sample':>18} {'diffusers us/sample':>20} "
          f"{'ratio (min)':>12} {'ratio (median)':>15}")
    with torch.inference_mode():
        for batch in (int(b) for b in args.batches.split(",")):
            noise = model.sample_prior(batch, seed=0, device=device)
            a, b = ours(noise), diffusers_loop(model, noise, args.nfe, args.order)  # also the warm-up
            diff = float((a - b).abs().max())
            t_ours, t_theirs = [], []
            for _ in range(args.repeats):
                for fn, acc in ((ours, t_ours), (lambda z: diffusers_loop(model, z, args.nfe, args.order), t_theirs)):
                    sync()
                    t0 = time.perf_counter()
                    fn(noise)
                    sync()
                    acc.append((time.perf_counter() - t0) / batch)
            r_min = min(t_theirs) / min(t_ours)
            r_med = statistics.median(t_theirs) / statistics.median(t_ours)
            print(f"{batch:>6} {diff:>11.2e} {min(t_ours) * 1e6:>18.2f} {min(t_theirs) * 1e6:>20.2f} "
                  f"{r_min:>12.2f} {r_med:>15.2f}")


if __name__ == "__main__":
    main()
