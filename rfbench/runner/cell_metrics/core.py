"""The metrics every suite can ask for, as ordinary per-cell metrics: ``ref_rmse`` and ``straightness``
(against the cached reference solution), ``w2`` (with ``w2_floor``) and ``sw2`` (against held-out
data), ``wall_clock_s`` (the cell's sampling call, timed)."""

from __future__ import annotations

from ...metrics import ref_rmse, sliced_w2, w2
from ...metrics.timing import time_draw
from ...metrics.distribution import MIN_POINTS_W2
from ..hooks import add_note, register_cell_metric


def _reference(ctx, cell, row) -> dict:
    """The cell's reference solution; the first metric that needs it records how it was solved."""
    ref = ctx.reference(cell.model, cell.seed)
    if "ref_nfe" not in row:
        row.update(ref_nfe=ref["nfe"], ref_rtol=ref["rtol"], ref_dtype=ctx.suite.reference_dtype)
        if ref.get("not_cached"):
            add_note(row, f"not cached: {ref['not_cached']}")
    return ref


@register_cell_metric("ref_rmse")
def ref_rmse_metric(ctx, cell, result, row) -> None:
    row["ref_rmse"] = ref_rmse(result.x, _reference(ctx, cell, row)["x_end"])


@register_cell_metric("straightness")
def straightness_metric(ctx, cell, result, row) -> None:
    row["straightness"] = _reference(ctx, cell, row)["straightness"]


@register_cell_metric("w2")
def w2_metric(ctx, cell, result, row) -> None:
    data = ctx.heldout(cell.model)
    if data is None:  # no data distribution, or too many dimensions for exact W2
        return
    x = result.x
    if min(len(x), len(data[0])) >= MIN_POINTS_W2:
        row["w2"] = w2(x[: len(data[0])], data[0])
        row["w2_floor"] = ctx.w2_floor(cell.model)
    else:
        add_note(row, f"w2 not computed: needs >= {MIN_POINTS_W2} samples and data points")


@register_cell_metric("sw2")
def sw2_metric(ctx, cell, result, row) -> None:
    data = ctx.heldout(cell.model)
    if data is not None:
        row["sw2"] = sliced_w2(result.x, data[0])


@register_cell_metric("wall_clock_s")
def wall_clock_metric(ctx, cell, result, row) -> None:
    draw, first_s = ctx.timing  # the cell's sampling call and the seconds of its first draw (run_cell)
    built = result.info.get("calib_cached") is False or result.info.get("compile_s")
    if ctx.suite.timing_repeats == 0 and not built and ctx.device.type == "cpu":
        # the cell's own sampling call (suites whose budget cannot afford a second draw)
        row.update(wall_clock_s=first_s, timing="first call")
    else:  # the first draw was the warm-up (and built any cached calibration or refiner)
        t = time_draw(draw, repeats=max(1, ctx.suite.timing_repeats), device=ctx.device,
                      numel=result.x[0].numel() if len(result.x) else 0)
        row.update(wall_clock_s=t["value_s"], timing_threads=t["threads"],
                   timing=f"{t['statistic']} of {len(t['all_s'])} after a warm-up, {t['threads']} thread"
                          f"{'s' if t['threads'] != 1 else ''}, {t['method']}")
        if len(t["all_s"]) >= 2 and t["median_s"] > 0:  # the figures' test of whether a Pareto front holds
            row["wall_clock_spread"] = (max(t["all_s"]) - min(t["all_s"])) / t["median_s"]
