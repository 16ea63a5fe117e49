"""Shared settings of the asv benchmarks (not a benchmark module: asv collects only time_/track_/peakmem_).

asv imports this package in the interpreter it runs (``environment_type: existing``), so rfbench must be
installed there (``pip install -c constraints.txt -e .``); asv clears PYTHONPATH.
"""

from __future__ import annotations

import os

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
