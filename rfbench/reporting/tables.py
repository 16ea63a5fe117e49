"""The one table renderer: the results frame (results.csv) and the per-model result tables that
results.md and the report both show. Which metrics are columns is the metric registry's
(``Metric.table``, ``Metric.kind == "model"``, ``Metric.lead``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..metrics import registry
from ..metrics.uncertainty import t_interval
from .compare import normalise_results
from .format import fmt
from .render import Bullets, Heading, Para, Table

# results.csv: the cell's identity, the registry's lead metrics, then provenance; any other column after
ID_COLUMNS = ["suite", "model", "data", "sampler", "grid", "nfe", "nfe_measured", "status", "reason", "notes"]
PROVENANCE_COLUMNS = ["n_samples", "seed", "device", "dtype", "ref_nfe", "ref_rtol", "torch_version",
                      "rfbench_version", "git_commit", "code_hash"]
RESULT_COLUMNS = ID_COLUMNS + registry.lead_metrics() + PROVENANCE_COLUMNS
# what a run records about the code and machine (one list for results.md and the report)
ENV_COLUMNS = ["device", "device_name", "dtype", "torch_version", "python_version", "torch_threads",
               "rfbench_version", "git_commit", "code_hash"]


def results_frame(rows: list[dict], metrics: Sequence[str] = ()) -> pd.DataFrame:
    """Rows as a frame, fixed columns first; every metric the suite asked for gets a column, empty
    where it could not be computed (the row's notes say why)."""
    df = pd.DataFrame(rows)
    for m in metrics:
        if m not in df.columns:
            df[m] = float("nan")
    lead = [c for c in RESULT_COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in lead]
    df = df[lead + rest]
    if "nfe" in df.columns:
        df["nfe"] = df["nfe"].astype("Int64")
    return df


def table_metrics(df: pd.DataFrame) -> list[str]:
    """The registry's table metrics that have a value in ``df``, in registry order."""
    return [m for m in registry.table_metrics() if m in df.columns and df[m].notna().any()]


def environment_line(df: pd.DataFrame) -> str:
    """``field=value, ...`` of the environment columns, from the first row."""
    cols = [c for c in ENV_COLUMNS if c in df.columns]
    return ", ".join(f"{c}={df[c].iloc[0]}" for c in cols) if cols and len(df) else ""


INTERVAL_WORDS = {"cell": "the cell's bootstrap interval over its samples (level and method in the row's "
                          "`<metric>_ci`)",
                  "seeds": "with several seeds, the 95% t-interval of the mean across seeds"}


def value_interval(rows: pd.DataFrame, metric: str) -> tuple[float, float, str | None]:
    """The interval shown next to the mean of ``metric`` over ``rows`` (one sampler and NFE): across
    seeds (a t-interval) when several rows have a value, else the one row's own ``<metric>_lo/_hi``;
    (lo, hi, "seeds" | "cell") or (nan, nan, None)."""
    vals = pd.to_numeric(rows[metric], errors="coerce").dropna() if metric in rows else pd.Series(dtype=float)
    if len(vals) >= 2:
        iv = t_interval(vals.to_numpy(np.float64))
        return iv.lo, iv.hi, "seeds"
    lo_c, hi_c = f"{metric}_lo", f"{metric}_hi"
    if len(vals) == 1 and lo_c in rows and hi_c in rows:
        r = rows.loc[vals.index[0]]
        if pd.notna(r[lo_c]) and pd.notna(r[hi_c]):
            return float(r[lo_c]), float(r[hi_c]), "cell"
    return math.nan, math.nan, None


def results_blocks(df: pd.DataFrame, *, level: int = 2) -> list:
    """Per (model, data), a heading at ``level``: the model's properties, a sampler x NFE table of the
    table metrics (mean over seeds, with its interval where there is one), the notes recorded with its rows; then the failed and
    not-applicable cells with their reasons."""
    df = normalise_results(df)
    metrics = table_metrics(df)
    b: list = []
    for (model, data), g in df.groupby(["model", "data"], sort=False):
        b.append(Heading(level, f"{model}" + (f" on {data}" if data else "")))
        first = g.iloc[0]
        facts = [f"{c} = {fmt(first[c], c)}" for c in registry.model_metrics() if c in g and pd.notna(first.get(c))]
        if facts:
            b.append(Para("; ".join(facts) + " (model properties" + ("; w2_floor: W2 between two held-out data sets"
                                                                    if "w2_floor" in " ".join(facts) else "") + ")."))
        ok = g[g["status"] == "ok"] if "status" in g else g
        if ok.empty:
            b.append(Para("No successful cell."))
            continue
        rows, shown = [], set()
        for (sampler, nfe), c in ok.groupby(["sampler", ok["nfe"].fillna(-1)], sort=False):
            row = [sampler, "adaptive" if nfe < 0 else str(int(nfe))]
            for m in metrics:
                lo, hi, how = value_interval(c, m)
                row.append(fmt(float(c[m].mean()), m) + (f" [{fmt(lo, m)}, {fmt(hi, m)}]" if how else ""))
                shown |= {how} if how else set()
            if "seed" in c and c["seed"].nunique() > 1:
                row[0] += f" ({c['seed'].nunique()} seeds)"
            rows.append(row)
        b.append(Table(["sampler", "NFE"] + metrics, rows))
        if shown:
            b.append(Para("[lo, hi]: " + "; ".join(sorted(INTERVAL_WORDS[h] for h in shown)) + "."))
        notes = [str(n) for n in ok["notes"].dropna().unique() if str(n).strip()] if "notes" in ok else []
        if notes:
            b.append(Para("Notes recorded with these rows (metrics not computed or not reported, and why):"))
            b.append(Bullets(notes))
    bad = df[df["status"] != "ok"] if "status" in df else df.iloc[0:0]
    if len(bad):
        b.append(Heading(level, "Failed and not-applicable cells"))
        b.append(Bullets([f"{r.model}" + (f"@{r.data}" if isinstance(r.data, str) and r.data else "")
                          + f" {r.sampler} nfe={fmt(r.nfe)}: {r.status}: {r.reason}" for r in bad.itertuples()]))
    return b


__all__ = ["ENV_COLUMNS", "RESULT_COLUMNS", "environment_line", "results_blocks", "results_frame", "table_metrics", "value_interval"]
