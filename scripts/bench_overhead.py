"""Sampler overhead: a sampler's wall clock divided by (NFE x one bare network call).

Target (issue 2): 1.10 or less at batch 4096 on CPU. The bare call is the trained 1-RF MLP's
``net(x, t)`` with a ready (batch,) time tensor; the sampler call is ``rfbench.sample`` end to end
(plan, grid, NFE counter, conversions). Both are timed in this run, interleaved, as medians.

    python scripts/bench_overhead.py [--batch 4096] [--nfe 16] [--repeats 15] [--device cpu] [--adapters]

``--adapters`` adds the library adapters' overhead over rfbench's native rule for the same update (same
model, NFE and batch, interleaved): wall clock per evaluation of the adapter entry divided by the native
sampler's (docs/adapters.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rfbench
from rfbench.models import get_model
from rfbench.samplers import SAMPLERS


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def interleaved(bare_fn, full_fn, nfe: int, repeats: int, device: torch.device) -> dict:
    """Alternate NFE bare calls and one sampler call, so both see the same machine load.

    Returns min and median of each. The minimum is the figure of merit (as timeit recommends):
    on a shared 2-core machine the medians wander by tens of percent between runs.
    """
    bare, full = [], []
    for _ in range(repeats):
        bare.append(timed(lambda: [bare_fn() for _ in range(nfe)], device) / nfe)
        full.append(timed(full_fn, device))
    return {"bare_min": min(bare), "full_min": min(full), "bare_med": statistics.median(bare),
            "full_med": statistics.median(full)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--nfe", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samplers", default=None, help="comma-separated (default: every fixed-step sampler that runs "
                                                      "on a plain velocity model)")
    ap.add_argument("--adapters", action="store_true", help="also time the library adapters against the native rules")
    ap.add_argument("--adapters-only", action="store_true", help="only the adapter table")
    ap.add_argument("--model", default="1-rf@8gaussians", help="for the adapter table (the bare-call table needs 1-rf)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.adapters_only:
        name, _, data = args.model.partition("@")
        model = get_model(name, **({"data": data, "progress": False} if data else {})).to(device)
        adapter_table(model, model.sample_prior(args.batch, seed=0, device=device), args, device)
        return
    model = get_model("1-rf", data="8gaussians", progress=False).to(device)
    net = model.net
    noise = model.sample_prior(args.batch, seed=0, device=device)
    t = torch.full((args.batch,), 0.5, device=device)
    names = args.samplers.split(",") if args.samplers else [
        n for n in SAMPLERS if not SAMPLERS.get(n).adaptive and SAMPLERS.get(n).needs in ("velocity", "schedule")]
    with torch.inference_mode():
        for _ in range(5):
            net(noise, t)
        rows = []
        for name in names:
            try:
                out = rfbench.sample(model, name, args.nfe, noise=noise)
            except Exception as exc:  # e.g. samplers that need a calibration or a refiner
                rows.append((name, None, None, None, f"skipped: {type(exc).__name__}: {exc}"))
                continue
            nfe = out.nfe_measured
            r = interleaved(lambda: net(noise, t), lambda: rfbench.sample(model, name, args.nfe, noise=noise),
                            nfe, args.repeats, device)
            rows.append((name, nfe, r["bare_min"], r["full_min"],
                         f"{r['full_min'] / (nfe * r['bare_min']):.3f}  (medians: "
                         f"{r['full_med'] / (nfe * r['bare_med']):.3f})"))
    print(f"sampler overhead on {device} ({torch.get_num_threads()} threads), batch {args.batch}, "
          f"requested NFE {args.nfe}, 1-RF MLP {sum(p.numel() for p in net.parameters())} params")
    print(f"{'sampler':<22}{'NFE':>5}{'bare call ms':>14}{'sampler ms':>12}  ratio of minima (target <= 1.10)")
    for name, nfe, bare, full, ratio in rows:
        if nfe is None:
            print(f"{name:<22}{ratio}")
        else:
            print(f"{name:<22}{nfe:>5}{bare * 1e3:>14.3f}{full * 1e3:>12.2f}  {ratio}")
    if args.adapters:
        adapter_table(model, noise, args, device)


# (adapter entry, the native rule it runs): same update formula family, same model, NFE and batch
ADAPTER_PAIRS = [
    ("diffusers:FlowMatchEulerDiscreteScheduler", "euler"),
    ("diffusers:FlowMatchHeunDiscreteScheduler", "heun"),
    ("diffusers:UniPCMultistepScheduler", "unipc-2"),
    ("diffusers:DPMSolverMultistepScheduler", "dpm-solver++-2m"),
    ("k-diffusion:heun", "heun"),
    ("k-diffusion:dpmpp_2m", "dpm-solver++-2m"),
]


def adapter_table(model, noise, args, device) -> None:
    """Per-evaluation wall clock of each adapter entry over its native rule, interleaved, minima (rows are
    printed as they are measured)."""
    print(f"adapter overhead over the native rule on {device} ({torch.get_num_threads()} threads), model "
          f"{model.name}, batch {args.batch}, requested NFE {args.nfe} (ms per evaluation, minima over "
          f"{args.repeats} repeats)")
    print(f"{'adapter':<44}{'native':<18}{'NFE':>4}{'NFE':>4}{'adapter':>10}{'native':>10}{'ratio':>8}", flush=True)
    with torch.inference_mode():
        for adapter, native in ADAPTER_PAIRS:
            try:
                a = rfbench.sample(model, adapter, args.nfe, noise=noise)
            except Exception as exc:  # a library that is not installed
                print(f"{adapter:<44}skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}", flush=True)
                continue
            b = rfbench.sample(model, native, a.nfe_measured, noise=noise)
            ta, tb = [], []
            for _ in range(args.repeats):
                ta.append(timed(lambda: rfbench.sample(model, adapter, args.nfe, noise=noise), device) / a.nfe_measured)
                tb.append(timed(lambda: rfbench.sample(model, native, a.nfe_measured, noise=noise), device)
                          / b.nfe_measured)
            print(f"{adapter:<44}{native:<18}{a.nfe_measured:>4}{b.nfe_measured:>4}{min(ta) * 1e3:>10.3f}"
                  f"{min(tb) * 1e3:>10.3f}{min(ta) / min(tb):>8.3f}  (medians "
                  f"{statistics.median(ta) / statistics.median(tb):.3f})", flush=True)


if __name__ == "__main__":
    main()
