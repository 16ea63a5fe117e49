"""FlowTurbo and BOSS costs on the 2-D 1-RF: one-off costs and sampling wall clock, measured here.

Prints, per requested nfe_main: the H/P/R split, nfe_refiner, wall clock of ``flowturbo`` eager
and with ``compile=True`` (compile time apart), of Heun and BOSS at the same NFE, and the cost of
one bare main-network and one refiner call; then the one-off costs (BOSS calibration, refiner
training: from this run or read from the cache, as marked).

    python scripts/bench_flowturbo.py [--batch 4096] [--nfe 4,8,16] [--repeats 7] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rfbench
from rfbench.models import get_model
from rfbench.training.boss import calibrate
from rfbench.training.flowturbo import load_refiner


def wall(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--nfe", default="4,8,16")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--compile", action="store_true", help="also time compile=True (compiling takes a minute on CPU)")
    args = ap.parse_args()
    model = get_model("1-rf", data="8gaussians", progress=False)
    noise = model.sample_prior(args.batch, seed=0)
    handle = load_refiner(model)
    calib = calibrate(model)
    refiner = handle.get(noise.device, noise.dtype)
    t = torch.full((args.batch,), 0.5)
    with torch.inference_mode():
        bare = wall(lambda: model.net(noise, t), args.repeats * 5)
        ref_call = wall(lambda: refiner(noise, t, noise), args.repeats * 5)
    main_params = sum(p.numel() for p in model.parameters())
    print(f"1-RF MLP ({main_params} params), batch {args.batch}, CPU, {torch.get_num_threads()} threads; "
          f"median of {args.repeats} after a warm-up")
    print(f"bare main call {bare * 1e3:.3f} ms; refiner call {ref_call * 1e3:.3f} ms "
          f"({handle.params} params, {handle.params / main_params:.1%} of the main network)")
    head = f"{'nfe_main':>8} {'H/P/R':>8} {'nfe_ref':>7} {'flowturbo ms':>13} {'heun ms':>8} {'boss ms':>8}"
    print(head + (f" {'compiled ms':>12} {'compile_s':>10}" if args.compile else ""))
    for nfe in map(int, args.nfe.split(",")):
        out = rfbench.sample(model, "flowturbo", nfe, noise=noise)
        ft = wall(lambda: rfbench.sample(model, "flowturbo", nfe, noise=noise), args.repeats)
        heun = wall(lambda: rfbench.sample(model, "heun", nfe, noise=noise), args.repeats)
        boss = wall(lambda: rfbench.sample(model, "boss", nfe, noise=noise), args.repeats)
        split = f"{out.info['n_h']}/{out.info['n_p']}/{out.info['n_r']}"
        line = (f"{out.nfe_measured:>8} {split:>8} {out.info['nfe_refiner']:>7} {ft * 1e3:>13.2f} "
                f"{heun * 1e3:>8.2f} {boss * 1e3:>8.2f}")
        if args.compile:
            first = rfbench.sample(model, "flowturbo", nfe, noise=noise, compile=True)
            comp = wall(lambda: rfbench.sample(model, "flowturbo", nfe, noise=noise, compile=True), args.repeats)
            line += f" {comp * 1e3:>12.2f} {first.info['compile_s']:>10.1f}"
        print(line)
    src = lambda hit: "read from cache; seconds when computed" if hit else "computed in this run"  # noqa: E731
    print(f"BOSS calibration (K=100, M=100): {calib.seconds:.2f} s ({src(calib.cache_hit)})")
    print(f"FlowTurbo refiner training: {handle.seconds:.1f} s ({src(handle.cache_hit)}); "
          f"explains {handle.info.get('explained', float('nan')):.1%} of the velocity change it is trained on")


if __name__ == "__main__":
    main()
