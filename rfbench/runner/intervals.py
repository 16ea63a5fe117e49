"""Per-cell error bars: bootstrap replicates of each metric, stored in the cell record, and the
``<metric>_lo`` / ``<metric>_hi`` / ``<metric>_ci`` columns of its row.

Every cell with the same noise (seed) and the same sample count resamples with the same
:class:`~rfbench.metrics.uncertainty.BootstrapPlan` (n, B, seed = the cell's noise seed), so the
replicate vectors of two samplers of one (model, NFE, seed) pair replicate by replicate
(``rfbench compare-samplers``, :mod:`rfbench.reporting.paired`). Replicates per metric:

============================  =====================================================================
metric                        replicates (n = units resampled)
============================  =====================================================================
ref_rmse, psnr, lpips,        mean of per-sample values (n = samples; exact, microseconds)
inversion_rmse
w2, sw2                       first-order (``linear``) replicates: one OT solve in all (n = the points
                              compared); the exact ones cost one solve per replicate (docs)
fd_digits                     Fréchet distance on resampled samples (n = samples, B_frechet)
fid                           Fréchet distance on resampled blocks of samples (n = fid_blocks)
============================  =====================================================================

Default B, level and the switch off live in :data:`DEFAULT_SETTINGS` (``rfbench run --no-intervals``,
``--bootstrap B``, ``--ci-level``). Interval methods are the defaults of
:data:`~rfbench.metrics.uncertainty.DEFAULT_METHODS` (BCa for means, centred for biased statistics:
docs/uncertainty.md, "Which interval"). The seconds spent here are recorded in ``intervals_s`` so every
run measures what the error bars cost.

Metric hooks that already hold per-sample values or features hand them over with :func:`stash`
(nothing is stored when intervals are off); :func:`add_cell_intervals` runs after the cell's metrics.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InvalidInputError
from ..metrics.uncertainty import DEFAULT_B, DEFAULT_LEVEL, BootstrapPlan, Replicates, mean_replicates

ROW_KEY = "_replicates"  # run_cell leaves the replicates here; execute_cell moves them into the record
PER_SAMPLE_MAX = 512  # per-sample (influence) values are kept in the record up to this many samples
MEAN_METRICS = ("ref_rmse", "psnr", "lpips", "lpips_unverified", "inversion_rmse", "reconstruction_rmse")


@dataclass(frozen=True)
class IntervalSettings:
    """What every cell's error bars depend on (hashed into the cell records).

    ``B``: replicates of means and of first-order W2 / sliced W2 (cheap); ``B_frechet``: replicates of
    Fréchet distances (fd_digits: 0.77 ms CPU each at 128 samples; FID: one 2048 x 2048
    eigendecomposition each, so image suites set ``fid_B`` as an option); ``level``: two-sided."""

    enabled: bool = True
    B: int = DEFAULT_B
    B_frechet: int = 100
    level: float = DEFAULT_LEVEL

    def __post_init__(self):
        for name in ("B", "B_frechet"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 20:
                raise InvalidInputError(f"bootstrap replicates {name} must be an integer >= 20, got {v!r}")
        if not isinstance(self.level, (int, float)) or not 0.5 <= self.level < 1:
            raise InvalidInputError(f"confidence level must be in [0.5, 1), got {self.level!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def with_B(self, B: int | None) -> IntervalSettings:
        """``--bootstrap B``: the same B for every metric kind."""
        return self if B is None else replace(self, B=B, B_frechet=B)


DEFAULT_SETTINGS = IntervalSettings()
OFF = IntervalSettings(enabled=False)


def settings_of(ctx) -> IntervalSettings:
    return getattr(ctx, "intervals", None) or DEFAULT_SETTINGS


# -- hand-over from metric hooks -------------------------------------------------------------------------
def stash(ctx, cell, name: str, value: Any) -> None:
    """Keep a metric's per-sample values (or features) of this cell for :func:`add_cell_intervals`
    (dropped when intervals are off)."""
    if settings_of(ctx).enabled:
        ctx.memo.setdefault("intervals.stash", {}).setdefault(cell.key, {})[name] = value


def stashed(ctx, cell) -> dict:
    return ctx.memo.get("intervals.stash", {}).pop(cell.key, {})


def put_replicates(row: dict, metric: str, rep: Replicates, level: float) -> None:
    """The interval columns of ``metric`` in ``row`` and its replicates for the record."""
    iv = rep.interval(None, level)
    row.update(iv.columns(metric))
    row.setdefault(ROW_KEY, {})[metric] = rep


# -- the per-cell step -----------------------------------------------------------------------------------
def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, np.float64)


def per_sample_psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 2.0) -> np.ndarray:
    """Per-sample PSNR as :func:`rfbench.metrics.lpips_ref.psnr` averages it (clamped to [-1, 1])."""
    a = x.detach().to("cpu", torch.float64).clamp(-1, 1)
    b = ref.detach().to("cpu", torch.float64).clamp(-1, 1)
    mse = (a - b).flatten(1).pow(2).mean(1)
    return (10 * torch.log10(data_range**2 / mse)).numpy()


def add_cell_intervals(ctx, cell, result, row: dict) -> None:
    """After the cell's metrics: replicates and interval columns for every metric in ``row`` that has
    a replicate rule. A metric whose replicates fail keeps its value and gets a note; ``intervals_s``
    records the time spent."""
    from ..metrics import per_sample_rmse
    from .hooks import add_note

    s = settings_of(ctx)
    given = stashed(ctx, cell)
    if not s.enabled:
        return
    start = time.perf_counter()
    seed, x = int(cell.seed), result.x
    n = len(x)

    def plan(units: int, B: int | None = None) -> BootstrapPlan:
        return BootstrapPlan(units, B or s.B, seed)

    def attempt(metric: str, build) -> None:
        if row.get(metric) is None or (isinstance(row[metric], float) and math.isnan(row[metric])):
            return
        try:
            put_replicates(row, metric, build(), s.level)
        except Exception as exc:  # noqa: BLE001 - an interval never costs the cell its value
            add_note(row, f"{metric} interval not computed: {type(exc).__name__}: {exc}")

    if n >= 2:
        if "ref_rmse" in row or "psnr" in row:
            ref = ctx.reference(cell.model, cell.seed)["x_end"]
            attempt("ref_rmse", lambda: mean_replicates(per_sample_rmse(x, ref), plan(n)))
            attempt("psnr", lambda: mean_replicates(per_sample_psnr(x, ref), plan(n)))
        for metric in ("lpips", "lpips_unverified", "inversion_rmse", "reconstruction_rmse"):
            if metric in given:
                v = _np(given[metric]).reshape(-1)
                attempt(metric, lambda v=v: mean_replicates(v, plan(len(v))))
        data = ctx.heldout(cell.model) if ("w2" in row or "sw2" in row) else None
        if data is not None:
            from ..metrics.uncertainty import sliced_w2_replicates, w2_replicates

            y = data[0]
            m = min(n, len(y))
            attempt("w2", lambda: w2_replicates(x[:m], y, plan(m), method="linear"))
            attempt("sw2", lambda: sliced_w2_replicates(x, y, plan(n), method="linear"))
        if "fd_digits" in given:
            from ..metrics.frechet_bootstrap import FrechetBootstrap

            feats, ref_stats = given["fd_digits"]
            attempt("fd_digits", lambda: FrechetBootstrap.from_features(feats, ref_stats)
                    .replicates(plan(len(feats), s.B_frechet)))
    for metric in ("fid", "fd_unverified"):
        if metric in given:  # (FrechetBootstrap over blocks, B): built by the FID hook
            boot, B = given[metric]
            attempt(metric, lambda boot=boot, B=B: boot.replicates(BootstrapPlan(boot.K, B, seed)))
    row["intervals_s"] = time.perf_counter() - start


# -- records ----------------------------------------------------------------------------------------------
def _encode(a: np.ndarray | None) -> dict | None:
    """float32 little-endian, base64: B replicates in 4B bytes (a JSON list of floats is 3x larger)."""
    if a is None:
        return None
    return {"f32": base64.b64encode(np.asarray(a, "<f4").tobytes()).decode("ascii")}


def _decode(d) -> np.ndarray | None:
    if d is None:
        return None
    if isinstance(d, Mapping) and "f32" in d:
        return np.frombuffer(base64.b64decode(d["f32"]), "<f4").astype(np.float64)
    return np.asarray(d, np.float64)


def encode_replicates(reps: Mapping[str, Replicates]) -> dict:
    """JSON-ready record entry: per metric the estimate, the plan, the kind, the truth and the
    replicate values (float32); per-sample influence values only up to :data:`PER_SAMPLE_MAX` units."""
    out = {}
    for metric, rep in reps.items():
        d = rep.to_dict()
        d["values"] = _encode(rep.values)
        keep = rep.influence is not None and len(rep.influence) <= PER_SAMPLE_MAX
        d["influence"] = _encode(rep.influence) if keep else None
        out[metric] = d
    return out


def decode_replicates(entry: Mapping | None) -> dict[str, Replicates]:
    """The inverse of :func:`encode_replicates` (values as float64 of the stored float32)."""
    out = {}
    for metric, d in (entry or {}).items():
        d = dict(d)
        d["values"], d["influence"] = _decode(d.get("values")), _decode(d.get("influence"))
        out[metric] = Replicates.from_dict(d)
    return out


def split_row(row: dict) -> tuple[dict, dict | None]:
    """(row without the replicates, their record entry or None)."""
    reps = row.pop(ROW_KEY, None)
    return row, (encode_replicates(reps) if reps else None)


def load_cells(run_dir: str | Path) -> list[dict]:
    """Verified cell records of a run folder with decoded replicates: dicts with the row's identity
    (model, data, sampler, nfe, seed, status) and ``replicates`` {metric: Replicates}."""
    from .records import CellStore

    root = Path(run_dir)
    if root.is_file() and root.name == "results.csv":
        root = root.parent
    if not (root / "cells").is_dir():
        raise InvalidInputError(f"{root} has no cells/ folder; expected the output folder of `rfbench run` (its cell "
                                "records hold the bootstrap replicates)")
    out = []
    for rec in CellStore(root).records():
        row = rec["row"]
        out.append({"model": row.get("model"), "data": row.get("data") or "", "sampler": row.get("sampler"),
                    "nfe": row.get("nfe"), "seed": row.get("seed"), "status": row.get("status"),
                    "replicates": decode_replicates(rec.get("replicates"))})
    return out



__all__ = ["DEFAULT_SETTINGS", "load_cells", "IntervalSettings", "MEAN_METRICS", "OFF", "PER_SAMPLE_MAX", "ROW_KEY",
           "add_cell_intervals", "decode_replicates", "encode_replicates", "per_sample_psnr", "put_replicates",
           "settings_of", "split_row", "stash"]
