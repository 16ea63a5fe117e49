"""Extension points of the sweep: per-cell metrics and artifacts registered by name.

A suite lists metric names in ``Suite.metrics``; each is declared in the metric registry
(:mod:`rfbench.metrics.registry`: description, direction, tables, figures) and computed by the function
registered here under the same name (rfbench's own in :mod:`rfbench.runner.cell_metrics`):

    register_metric(Metric("my_psnr", "PSNR to the reference", direction="higher", table=True))
    @register_cell_metric("my_psnr")
    def my_psnr(ctx, cell, result, row):   # ctx: SweepContext, result: SampleResult
        row["my_psnr"] = ...

A metric that cannot be computed leaves its column empty and says why with :func:`add_note`
(never a substitute number). Artifact hooks (``Suite.artifacts``) write files, e.g. sample grids,
under ``ctx.out_dir``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InvalidInputError
from ..metrics.registry import METRICS
from ..registry import Registry

CELL_METRICS: Registry[Callable] = Registry("cell metric")
ARTIFACTS: Registry[Callable] = Registry("artifact")


def register_cell_metric(name: str):
    """Register how the sweep computes metric ``name``, which the metric registry must declare."""
    if name not in METRICS:
        raise InvalidInputError(f"cell metric {name!r} is not declared in the metric registry; declare it first "
                                "with rfbench.metrics.register_metric(Metric(...))")

    def deco(fn):
        CELL_METRICS.register(name, fn)
        return fn
    return deco


def register_artifact(name: str):
    def deco(fn):
        ARTIFACTS.register(name, fn)
        return fn
    return deco


def add_note(row: dict, text: str) -> None:
    """Append a note (why a metric is missing, a rounding, ...) to the row's ``notes`` column."""
    row["notes"] = f"{row['notes']}; {text}" if row.get("notes") else text
