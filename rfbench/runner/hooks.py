"""Extension points of the sweep: per-cell metrics and artifacts registered by name.

A suite lists metric names in ``Suite.metrics``. The built-in ones (ref_rmse, straightness, w2, sw2,
wall_clock_s) are computed by the runner; any other name is looked up here:

    @register_cell_metric("psnr")
    def psnr(ctx, cell, result, row):      # ctx: SweepContext, result: SampleResult
        row["psnr"] = ...

A metric that cannot be computed leaves its column empty and says why with :func:`add_note`
(never a substitute number). Artifact hooks (``Suite.artifacts``) write files, e.g. sample grids,
under ``ctx.out_dir``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..registry import Registry

CELL_METRICS: Registry[Callable] = Registry("cell metric")
ARTIFACTS: Registry[Callable] = Registry("artifact")


def register_cell_metric(name: str):
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
