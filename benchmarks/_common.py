"""Shared settings of the asv benchmarks (not a benchmark module: asv collects only time_/track_/peakmem_).

asv imports this package in the interpreter it runs (``environment_type: existing``), so rfbench must be
installed there (``pip install -c constraints.txt -e .``); asv clears PYTHONPATH.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

# the exact oracles (pure discretisation error) on which quality is tracked
QUALITY_MODELS = ["analytic-gmm-rf", "analytic-gmm-vp"]
# FlowTurbo's quality is its learned refiner's (minutes of training on an oracle): tracked for speed on 1-rf
QUALITY_SKIP = {"flowturbo"}
QUALITY_NFE = 8  # the fixed NFE of track_ref_rmse and track_nfe_gap
QUALITY_N = 256  # samples (float64, seed 0)
ORDER_NFES = [16, 32, 64]  # the fitted order of track_order_deficit
ORDER_N = 64

# speed: an exact oracle and a trained network, at a batch that a 2-core CPU handles in milliseconds
SPEED_MODELS = ["analytic-gmm-rf", "1-rf"]
SPEED_NFE = 8
SPEED_BATCH = 4096


def pin_threads() -> None:
    """Benchmarks measure one configuration: torch threads fixed (RFBENCH_ASV_THREADS, default 2)."""
    torch.set_num_threads(int(os.environ.get("RFBENCH_ASV_THREADS", "2")))


# speed gate: CPU-time ratios, work and calibration alternated in one process (see cpu_ratio)
RATIO_REPEATS = 7  # alternations for calls of milliseconds; seconds-long suites use fewer


def cpu_ratio(work, calibration, repeats: int = RATIO_REPEATS) -> float:
    """The median over ``repeats`` alternations of CPU seconds of ``work()`` / CPU seconds of the
    ``calibration()`` run just before it; single-threaded (torch, and numpy's BLAS and OpenMP pools,
    restored afterwards).

    The speed gate's unit. The machine's speed cancels in the ratio, and the process's CPU time with one
    thread keeps a busy machine out of it: time spent waiting for a core is not CPU time, and no worker
    thread spins (burning CPU time) at a barrier while its sibling waits for a core (on a loaded 2-core
    machine 8 network calls of the GMM oracle took 20x longer in wall clock with 2 threads than with 1).
    What is left, other processes' use of caches and memory bandwidth, drifts: a pair run back to back
    shares it, and the median drops the pairs a burst hit (on a 2-core machine at load 20, the median of
    pair ratios moved by at most 1.22x between runs, min(work) / min(calibration) by 1.57x).
    """
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    threads = torch.get_num_threads()
    ratios = []
    try:
        torch.set_num_threads(1)
        with threadpool_limits(1):
            for _ in range(repeats):
                c = _cpu_seconds(calibration)
                ratios.append(_cpu_seconds(work) / c)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(ratios)


def _cpu_seconds(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


class ReferenceWorkload:
    """The calibration of suite ratios: ``calls`` forward passes of a fixed, seeded MLP (2-256-256-2,
    batch 4096; plain torch, no rfbench code, so a change to rfbench cannot move it)."""

    def __init__(self, calls: int = 32):
        gen = torch.Generator().manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 256), torch.nn.SiLU(), torch.nn.Linear(256, 256),
                                       torch.nn.SiLU(), torch.nn.Linear(256, 2))
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        self.x = torch.randn(4096, 2, generator=gen)
        self.calls = calls

    @torch.no_grad()
    def __call__(self) -> None:
        for _ in range(self.calls):
            self.net(self.x)


def speed_applies(model: str, sampler: str) -> bool:
    """FlowTurbo is timed on the trained model only (on an oracle its refiner would be trained in setup)."""
    return not (sampler == "flowturbo" and model.startswith("analytic"))


def catalogue() -> list[str]:
    """Every sampler rfbench registers (a sampler added to the package is tracked from its first commit)."""
    from rfbench.suites import catalogue_samplers

    return catalogue_samplers()


def load_model(name: str):
    from rfbench.models import get_model

    return get_model(name, progress=False)  # models that do not train ignore progress
