"""Error-bar tables: samplers ranked per (model, NFE, seed) with paired bootstrap
comparisons (``rfbench compare-samplers DIR --nfe 8``, and a report section), and mean with a
t-interval across seeds.

The paired comparisons read the replicate vectors stored in the cell records (``DIR/cells``,
:mod:`rfbench.runner.intervals`): two samplers of one model, NFE and noise seed resampled the same
sample indices, so their difference is taken replicate by replicate
(:func:`rfbench.metrics.uncertainty.rank_with_groups`: all pairs, Holm-adjusted p-values, groups of
statistically indistinguishable samplers as a compact letter display). The method, level and B
are those of docs/uncertainty.md; means whose per-sample values were not kept (more than
``PER_SAMPLE_MAX`` samples) use percentile instead of BCa (for means the two agree, docs).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from ..metrics.uncertainty import DEFAULT_LEVEL, compare, default_method, rank_with_groups, t_interval
from .render import Heading, Para, Table, blocks_to_markdown

# metrics ranked by default, in this order (others with replicates follow)
ORDER = ("ref_rmse", "fid", "fd_digits", "w2", "sw2", "lpips", "psnr", "inversion_rmse", "reconstruction_rmse",
         "fd_unverified", "lpips_unverified")


def _fmt(v: float, digits: int = 4) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def _lower_is_better(metric: str) -> bool:
    from ..metrics import METRICS

    return METRICS.get(metric).lower_is_better if metric in METRICS else True


def _method(reps) -> str:
    kinds = {r.kind for r in reps}
    method = default_method(next(iter(kinds))) if len(kinds) == 1 else "percentile"
    if method == "bca" and any(r.influence is None for r in reps):
        method = "percentile"
    return method


def ranking_rows(cells: list[dict], *, nfe: int | None = None, metrics: list[str] | None = None,
                 level: float = DEFAULT_LEVEL) -> list[dict]:
    """One dict per (model, data, NFE, seed, metric, sampler), best first within each group: rank,
    estimate, interval, letters (samplers sharing a letter are indistinguishable), the paired
    difference to the best with its interval, raw and Holm-adjusted p-values."""
    groups: dict[tuple, dict] = defaultdict(dict)
    for c in cells:
        if c["status"] != "ok" or c["nfe"] is None or (nfe is not None and int(c["nfe"]) != int(nfe)):
            continue
        for metric, rep in c["replicates"].items():
            if metrics is None or metric in metrics:
                groups[(c["model"], c["data"], int(c["nfe"]), int(c["seed"]), metric)][c["sampler"]] = rep
    order = {m: i for i, m in enumerate(metrics or ORDER)}
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], k[3], order.get(k[4], len(order)), k[4])):
        model, data, n, seed, metric = key
        reps = groups[key]
        plans = {r.plan for r in reps.values()}
        if len(plans) > 1:  # cannot pair: different sample counts (e.g. a rerun with other --n-samples)
            raise InvalidInputError(f"{model} NFE {n} seed {seed} {metric}: cells resampled with different plans "
                                    f"({', '.join(sorted(p.label for p in plans))}); rerun them with one sample count")
        method = _method(reps.values())
        lower = _lower_is_better(metric)
        ranked = rank_with_groups(reps, lower_is_better=lower, method=method, level=level)
        best = ranked[0]["name"]
        plan = next(iter(plans))
        for r in ranked:
            row = {"model": model, "data": data, "nfe": n, "seed": seed, "metric": metric, "sampler": r["name"],
                   "rank": r["rank"], "estimate": r["estimate"], "lo": r["lo"], "hi": r["hi"], "group": r["letters"],
                   "with_best": r["with_best"], "p_vs_best_holm": r["p_vs_best"], "method": method, "level": level,
                   "B": plan.B, "n": plan.n, "plan_seed": plan.seed, "lower_is_better": lower, "n_samplers": len(reps)}
            if r["name"] == best:
                row.update(diff=0.0, diff_lo=math.nan, diff_hi=math.nan, p_vs_best=math.nan)
            else:
                cmp = compare(reps[r["name"]], reps[best], names=(r["name"], best), method=method, level=level)
                row.update(diff=cmp.difference, diff_lo=cmp.interval.lo, diff_hi=cmp.interval.hi, p_vs_best=cmp.p_value)
            out.append(row)
    return out


def ranking_blocks(rows: list[dict], *, level: int = 2, title: str | None = "Paired comparisons of samplers") -> list:
    """Render blocks: a table per (model, NFE, seed, metric)."""
    b: list = [Heading(level, title)] if title else []
    if not rows:
        return b + [Para("No cell record with bootstrap replicates for these settings (run with error bars on, "
                         "the default; `--no-intervals` turns them off).")]
    b.append(Para("Per model, NFE and noise seed, the samplers ranked by each metric. Every sampler starts from "
                  "the same noise, so the bootstrap resamples the same sample indices in every cell and the "
                  "difference to the best sampler is taken replicate by replicate (paired). `group`: samplers "
                  "sharing a letter are not distinguishable (all pairs compared, p-values Holm-adjusted, "
                  "compact letter display); `p (Holm)`: adjusted p of the difference to the best. Method and "
                  "formulas: docs/uncertainty.md."))
    frame = pd.DataFrame(rows)
    for (model, data, nfe, seed, metric), g in frame.groupby(["model", "data", "nfe", "seed", "metric"], sort=False):
        r0 = g.iloc[0]
        pct = f"{100 * r0['level']:g}%"
        direction = "lower is better" if r0["lower_is_better"] else "higher is better"
        b.append(Heading(level + 1, f"{model}" + (f" on {data}" if data else "")
                         + f", NFE {nfe}, seed {seed}: {metric}"))
        b.append(Para(f"{direction}; {r0['method']} {pct} intervals, B = {r0['B']} over n = {r0['n']} "
                      f"(resampling seed {r0['plan_seed']}); {len(g)} samplers."))
        table = []
        for r in g.itertuples(index=False):
            first = r.rank == 1
            table.append([str(r.rank), r.sampler, f"{_fmt(r.estimate)} [{_fmt(r.lo)}, {_fmt(r.hi)}]", r.group,
                          "best" if first else f"{r.diff:+.4g} [{r.diff_lo:+.4g}, {r.diff_hi:+.4g}]",
                          "—" if first else _p_text(r.p_vs_best), "—" if first else _p_text(r.p_vs_best_holm)])
        b.append(Table(["rank", "sampler", f"{metric} [{pct} CI]", "group", "paired diff to best [CI]", "p",
                        "p (Holm)"], table))
    return b


def compare_samplers_text(cells: list[dict], run_dir: str | Path, *, nfe: int | None = None,
                          metrics: list[str] | None = None, level: float = DEFAULT_LEVEL) -> tuple[str, list[dict]]:
    """``rfbench compare-samplers``: ``cells`` as :func:`rfbench.runner.intervals.load_cells` reads
    them from ``run_dir`` (named in errors)."""
    if not cells:
        raise InvalidInputError(f"{run_dir}: no cell records found under cells/")
    if nfe is not None and not any(c["nfe"] is not None and int(c["nfe"]) == int(nfe) for c in cells):
        have = sorted({int(c["nfe"]) for c in cells if c["nfe"] is not None})
        raise InvalidInputError(f"--nfe {nfe}: no cell at that NFE in {run_dir} (NFE values there: "
                                f"{', '.join(map(str, have)) or 'none'})")
    known = {m for c in cells for m in c["replicates"]}
    for m in metrics or []:
        if m not in known:
            raise InvalidInputError(f"--metric {m}: no cell in {run_dir} has replicates of it (metrics with "
                                    f"replicates: {', '.join(sorted(known)) or 'none'})")
    rows = ranking_rows(cells, nfe=nfe, metrics=metrics, level=level)
    return blocks_to_markdown(ranking_blocks(rows, level=1, title="rfbench compare-samplers")), rows


# -- across seeds --------------------------------------------------------------------------------------
def across_seeds(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per (model, data, sampler, NFE) with several seeds: n_seeds, mean and the t-interval across
    seeds of each metric (columns ``<metric>_mean``, ``<metric>_seeds_lo``, ``<metric>_seeds_hi``)."""
    if "seed" not in df or df["seed"].nunique() < 2:
        return pd.DataFrame()
    ok = df[df["status"] == "ok"] if "status" in df else df
    out = []
    keys = ["model", "data", "sampler", "nfe"]
    for key, g in ok.groupby([k for k in keys if k in ok], dropna=False, sort=False):
        row = dict(zip(keys, key))
        row["n_seeds"] = int(g["seed"].nunique())
        for m in metrics:
            if m not in g:
                continue
            vals = pd.to_numeric(g[m], errors="coerce").dropna().to_numpy(np.float64)
            if len(vals) == 0:
                continue
            iv = t_interval(vals)
            row[f"{m}_mean"], row[f"{m}_seeds_lo"], row[f"{m}_seeds_hi"] = iv.estimate, iv.lo, iv.hi
        out.append(row)
    return pd.DataFrame(out)


def seeds_blocks(df: pd.DataFrame, metrics: list[str], *, level: int = 2) -> list:
    agg = across_seeds(df, metrics)
    if agg.empty:
        return []
    cols = [m for m in metrics if f"{m}_mean" in agg]
    b: list = [Heading(level, "Across seeds"),
               Para("Mean over noise seeds and the 95% t-interval across seeds (mean +- t sd / sqrt(seeds)); "
                    "each seed is a full cell from its own noise.")]
    rows = []
    for r in agg.to_dict("records"):
        nfe = "adaptive" if pd.isna(r["nfe"]) else str(int(r["nfe"]))
        data = r.get("data")
        rows.append([str(r["model"]) + (f"@{data}" if isinstance(data, str) and data else ""), r["sampler"], nfe,
                     str(r["n_seeds"])]
                    + [f"{_fmt(r.get(f'{m}_mean', math.nan))} [{_fmt(r.get(f'{m}_seeds_lo', math.nan))}, "
                       f"{_fmt(r.get(f'{m}_seeds_hi', math.nan))}]" for m in cols])
    b.append(Table(["model", "sampler", "NFE", "seeds"] + cols, rows))
    return b


def interval_columns(df: pd.DataFrame) -> list[str]:
    """Metrics of ``df`` that carry ``_lo`` and ``_hi`` columns."""
    return [c[:-3] for c in df.columns if c.endswith("_lo") and f"{c[:-3]}_hi" in df and c[:-3] in df]


__all__ = ["across_seeds", "compare_samplers_text", "error_band", "interval_columns", "ranking_blocks", "ranking_rows",
           "report_blocks", "seeds_blocks"]


def error_band(s: pd.DataFrame, metric: str) -> pd.DataFrame | None:
    """Per counted NFE of one sampler's rows: the band drawn around the metric-vs-NFE line. One seed:
    the cell's bootstrap interval (``<metric>_lo``/``_hi``); several seeds: the t-interval across
    seeds. None when the rows carry no interval."""
    lo_c, hi_c = f"{metric}_lo", f"{metric}_hi"
    out = {}
    for nfe, g in s.groupby("nfe_measured"):
        vals = pd.to_numeric(g[metric], errors="coerce").dropna().to_numpy(np.float64)
        if len(vals) >= 2:
            iv = t_interval(vals)
            out[nfe] = (iv.lo, iv.hi)
        elif lo_c in g and hi_c in g and g[lo_c].notna().any():
            out[nfe] = (float(g[lo_c].mean()), float(g[hi_c].mean()))
    if not out:
        return None
    return pd.DataFrame.from_dict(out, orient="index", columns=["lo", "hi"]).sort_index()


def _report_nfe(cells: list[dict], nfe: int | None) -> int | None:
    have = sorted({int(c["nfe"]) for c in cells if c["nfe"] is not None and c["replicates"]})
    if not have:
        return None
    if nfe in have:
        return nfe
    return 8 if 8 in have else have[len(have) // 2]


def _p_text(p: float) -> str:
    """A p-value for a table: three significant digits, or "< 0.001" (never a bare 0)."""
    return "< 0.001" if isinstance(p, float) and not math.isnan(p) and p < 1e-3 else _fmt(p, 3)


def report_blocks(df: pd.DataFrame, cells: list[dict] | None, *, nfe: int | None = None) -> list:
    """The report's "Error bars" section: how the intervals were made, the mean and t-interval across seeds
    (several seeds), and the paired ranking of samplers at one NFE (``nfe``; default 8 when run,
    else the middle NFE) by each model's first metric with replicates. ``cells``: the run's cell
    records with decoded replicates (:func:`rfbench.runner.intervals.load_cells`); None when the run
    folder has none."""
    metrics = interval_columns(df)
    b: list = [Heading(2, "Error bars")]
    if not metrics:
        return b + [Para("The rows carry no intervals (run without `--no-intervals` to get them).")]
    how = sorted({str(v) for m in metrics for v in df[f"{m}_ci"].dropna().unique()} if metrics else set())
    b.append(Para("Each value with its 95% interval from a bootstrap over the cell's samples (every cell with the "
                  "same noise and sample count resamples the same indices; BCa for means; centred for Fréchet "
                  "distances, an interval for the value the metric takes on average at this sample count; "
                  "percentile of first-order replicates for W2 and sliced W2, likewise; docs/uncertainty.md). Methods recorded: " + "; ".join(f"`{h}`" for h in how[:6])
                  + (" ..." if len(how) > 6 else "") + "."))
    # each cell's interval already stands next to its value in the sampler x NFE tables above, and in
    # results.csv (<metric>_lo / _hi): a per-cell table here would repeat them (issue 14)
    b.append(Para("Each cell's interval stands next to its value in the tables above (`[lo, hi]`) and in "
                  "`results.csv` (`<metric>_lo`, `<metric>_hi`, `<metric>_ci`)."))
    b += seeds_blocks(df, metrics, level=3)
    if cells is None:
        return b + [Para("No cell records next to the results (cells/): paired comparisons need them.")]
    at = _report_nfe(cells, nfe)
    if at is None:
        return b
    chosen: list[dict] = []
    for key in sorted({(c["model"], c["data"]) for c in cells}):
        sub = [c for c in cells if (c["model"], c["data"]) == key]
        have = {m for c in sub for m in c["replicates"]}
        first = next((m for m in ORDER if m in have), None)
        if first is not None:
            chosen += ranking_rows(sub, nfe=at, metrics=[first])
    b += ranking_blocks(chosen, level=3, title=f"Paired comparisons at NFE {at} (`rfbench compare-samplers DIR "
                                                 f"--nfe {at}` for any NFE and metric)")
    return b
