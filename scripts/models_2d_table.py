"""Print the 2-D model catalogue's measured table (docs/model-catalogue.md): per model on 8gaussians,
its straightness and W2 to held-out data at NFE 1, 2, 4 (Euler for velocity models, DDIM for the
diffusion-form ones, EDM's Euler for PFGM++/EDM) and of an accurate dopri5 solve.

    python scripts/models_2d_table.py [--data 8gaussians] [--n 2000]

W2 is exact (POT) between n samples and n held-out points; the floor is W2 between two held-out sets.
Models are trained on first use (cached).
"""

from __future__ import annotations

import argparse

import torch

import rfbench
from rfbench.data import get_dataset
from rfbench.metrics import midpoint_times, straightness_from_trajectory, w2
from rfbench.models import get_model
from rfbench.samplers import reference_solution

MODELS = ["1-rf", "2-rf", "3-rf", "2-rf-distill", "2-rf++", "vp-diffusion", "rectified-diffusion", "pfgmpp-d8",
          "pfgmpp-d2048", "edm"]
FIRST_ORDER = {"vp-diffusion": "ddim", "rectified-diffusion": "ddim"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="8gaussians")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    ds = get_dataset(args.data)
    held = ds.sample(args.n, seed=12345)
    floor = w2(ds.sample(args.n, seed=777), held)
    print(f"{args.data}: {args.n} samples (seed 0) vs {args.n} held-out points; W2 floor {floor:.3f}\n")
    print("| model | straightness | sampler | W2 @1 | W2 @2 | W2 @4 | W2 dopri5 |")
    print("|---|---|---|---|---|---|---|")
    for name in MODELS:
        model = get_model(name, data=args.data, progress=True).double()
        noise = model.sample_prior(args.n, seed=0, dtype=torch.float64)
        sol = reference_solution(model, noise, rtol=1e-5, atol=1e-5, times=midpoint_times(model))
        s = straightness_from_trajectory(model, sol.times[1:-1], sol.states[1:-1], sol.states[0], sol.x_end)
        sampler = FIRST_ORDER.get(name, "euler")
        cells = []
        for nfe in (1, 2, 4):
            x = rfbench.sample(model, sampler, nfe, noise=noise).x
            cells.append(f"{w2(x, held):.3f}")
        print(f"| `{name}` | {s:.2e} | {sampler} | {' | '.join(cells)} | {w2(sol.x_end, held):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
