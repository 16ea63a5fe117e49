"""Empirical convergence order of a sampler: the slope of log(error) against log(NFE).

Used by the tests (orders against theory), the reports (measured vs claimed order) and asv.
The error is ref_rmse against a tight float64 reference from the same noise, on a model whose
velocity is exact (an analytic model), so it is pure discretisation error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..models.base import FlowModel
from .solver_error import ref_rmse


def fit_order(nfes: list[int], errors: list[float], last: int = 3) -> float:
    """Least-squares slope of -log(error) vs log(NFE) over the ``last`` largest NFE values."""
    pts = sorted(zip(nfes, errors))[-last:]
    xs = [math.log(n) for n, _ in pts]
    ys = [-math.log(e) for _, e in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


@dataclass
class ConvergenceResult:
    sampler: str
    nfes: list[int]
    nfe_measured: list[int]
    errors: list[float]
    order: float


def measure_convergence(model: FlowModel, sampler: str, nfes: list[int], *, n: int = 256, seed: int = 0,
                        reference: torch.Tensor | None = None, last: int = 3, **options) -> ConvergenceResult:
    """ref_rmse of ``sampler`` at each NFE in float64, and the fitted order (over ``last`` points)."""
    from ..samplers import reference_solution, sample

    model = model.in_dtype(torch.float64)
    noise = model.sample_prior(n, seed=seed, dtype=torch.float64)
    if reference is None:
        reference = reference_solution(model, noise, rtol=1e-11, atol=1e-11).x_end
    errors, measured = [], []
    for nfe in nfes:
        out = sample(model, sampler, nfe, noise=noise, dtype=torch.float64, **options)
        errors.append(ref_rmse(out.x, reference))
        measured.append(out.nfe_measured)
    return ConvergenceResult(sampler, list(nfes), measured, errors, fit_order(measured, errors, last))
