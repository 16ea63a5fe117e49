"""Coupled pairs of a parent model for reflow-type training: (noise, ODE endpoint), solved with the
parent's own ODE by dopri5 (:func:`rfbench.models.ode.reference_solution`).

The noise is drawn from the prior with seed ``PAIR_SEED_OFFSET + seed`` (never a suite's evaluation
seed) and kept as drawn (never a re-draw); :func:`rfbench.training.catalogue.load_pairs` caches them.
"""

from __future__ import annotations

import time

import torch

from .. import progress as _progress
from ..models.base import FlowModel
from ..models.ode import reference_solution

PAIRS_VERSION = 1


def solve_pairs(model: FlowModel, spec: dict, *, progress: bool = True, device: str | torch.device = "cpu") -> dict:
    """(noise, endpoint) pairs of ``model``'s ODE: dopri5 in chunks (the step size is shared within a
    chunk), from ``spec["n"]`` prior draws with seed ``spec["seed"]``. The noise is kept as drawn."""
    dtype = getattr(torch, spec["dtype"])
    noise = model.sample_prior(spec["n"], seed=spec["seed"], dtype=torch.float64)
    model = model.to(device)
    ends, nfes = [], []
    start = time.perf_counter()
    chunks = noise.split(spec["chunk"])
    _progress.announce(f"reflow pairs of {model.name}: {spec['n']} dopri5 solves in {len(chunks)} chunks", show=progress)
    bar = _progress.bar(chunks, desc=f"pairs of {model.name}", unit="chunk", disable=not progress, leave=False,
                        estimate=True)
    for chunk in bar:
        sol = reference_solution(model, chunk.to(device), rtol=spec["rtol"], atol=spec["atol"], dtype=dtype)
        ends.append(sol.x_end.to("cpu", torch.float32))
        nfes.append(sol.nfe)
        bar.set_postfix(nfe=sol.nfe, refresh=False)
    bar.close()
    model.to("cpu")
    return {"noise": noise.to(torch.float32), "x1": torch.cat(ends), "nfe": nfes,
            "seconds": time.perf_counter() - start, "spec": dict(spec)}
