"""The one table renderer: the results frame (results.csv), the sampler x NFE tables that results.md,
the report and tables.tex show (best value of each NFE column in bold), and the report's headline
(the best sampler at each NFE). Which metrics are tables and columns is the metric registry's
(``Metric.table``, ``Metric.kind == "model"``, ``Metric.lead``, ``Metric.headline``, ``direction``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import InvalidInputError
from ..metrics import registry
from ..metrics.uncertainty import t_interval
from .compare import normalise_results
from .format import fmt
from .render import Bullets, Heading, Para, Table, table_to_latex

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


@dataclass
class WideCell:
    """One sampler at one NFE: the mean over seeds and the interval shown next to it."""
    mean: float
    lo: float = math.nan
    hi: float = math.nan
    how: str | None = None          # "seeds" | "cell" | None (see :func:`value_interval`)
    n_seeds: int = 1
    nfe_measured: float = math.nan  # median counted NFE (shown for adaptive samplers)
    best: bool = False


@dataclass
class WideTable:
    """A sampler x NFE table of one metric for one (model, data): the paper's table."""
    model: str
    data: str
    metric: str
    direction: str                  # the registry's: "lower" | "higher" | "none" (no best marked)
    nfes: list                      # column keys: requested NFE (int), then None for adaptive samplers
    cells: dict = field(default_factory=dict)  # (sampler, nfe) -> WideCell
    samplers: list = field(default_factory=list)

    @property
    def seeds(self) -> int:
        return max((c.n_seeds for c in self.cells.values()), default=1)

    def title(self) -> str:
        return self.model + (f" on {self.data}" if self.data else "")

    def label(self) -> str:
        """The metric, its unit where the name lacks it, and the arrow of its better direction."""
        unit = registry.get_metric(self.metric).unit if self.metric in registry.METRICS else ""
        unit = f" ({unit})" if unit and not self.metric.endswith(f"_{unit}") else ""
        return self.metric + unit + ("" if self.direction == "none" else (" ↓" if self.direction == "lower" else " ↑"))

    def to_table(self) -> Table:
        """Markdown-lite cells: the best mean of each NFE column in **bold**, its interval after it."""
        several = self.seeds > 1
        header = [self.label()] + (["seeds"] if several else []) + \
            ["adaptive" if n is None else f"NFE {n}" for n in self.nfes]
        rows = []
        for s in self.samplers:
            row = [s]
            if several:
                row.append(str(max(c.n_seeds for (s2, _), c in self.cells.items() if s2 == s)))
            for n in self.nfes:
                c = self.cells.get((s, n))
                row.append("—" if c is None else _cell_text(c, self.metric, adaptive=n is None))
            rows.append(row)
        return Table(header, rows)


def _cell_text(c: WideCell, metric: str, *, adaptive: bool = False) -> str:
    v = fmt(c.mean, metric)
    t = f"**{v}**" if c.best else v
    if c.how:
        t += f" [{fmt(c.lo, metric)}, {fmt(c.hi, metric)}]"
    if adaptive and not math.isnan(c.nfe_measured):
        t += f" (NFE {int(round(c.nfe_measured))})"
    return t


def _direction(metric: str) -> str:
    return registry.get_metric(metric).direction if metric in registry.METRICS else "lower"


def _nfe_key(v) -> int | None:
    return None if pd.isna(v) else int(v)


def wide_table(g: pd.DataFrame, metric: str, *, model: str = "", data: str = "") -> WideTable | None:
    """The sampler x NFE table of ``metric`` over the ok rows ``g`` of one (model, data): mean over
    seeds, :func:`value_interval`, and the best mean of each NFE column marked (the metric's registry
    direction; ties at the shown precision all marked; columns with one value are not marked)."""
    g = g[g[metric].notna()] if metric in g else g.iloc[0:0]
    if g.empty:
        return None
    nfe = [_nfe_key(v) for v in g["nfe"]]
    keys: list = sorted({n for n in nfe if n is not None}) + ([None] if None in nfe else [])
    t = WideTable(model, data, metric, _direction(metric), keys)
    t.samplers = list(dict.fromkeys(g["sampler"]))
    column = pd.Series([-1 if n is None else n for n in nfe], index=g.index, dtype="int64")
    for (sampler, n), c in g.groupby([g["sampler"], column], sort=False):
        lo, hi, how = value_interval(c, metric)
        meas = pd.to_numeric(c["nfe_measured"], errors="coerce").median() if "nfe_measured" in c else math.nan
        t.cells[(sampler, None if n < 0 else int(n))] = WideCell(
            float(pd.to_numeric(c[metric], errors="coerce").mean()), lo, hi, how,
            int(c["seed"].nunique()) if "seed" in c else 1, float(meas))
    if t.direction != "none":
        sign = 1.0 if t.direction == "lower" else -1.0
        for n in keys:
            col = [c for (s, k), c in t.cells.items() if k == n and math.isfinite(c.mean)]
            if len(col) < 2:
                continue
            best = min(col, key=lambda c: sign * c.mean)
            for c in col:  # equal at the precision shown: both are the best a reader can see
                c.best = fmt(c.mean, metric) == fmt(best.mean, metric)
    return t


def _shown_metrics(g: pd.DataFrame) -> list[str]:
    """Table metrics with a value in ``g``; the counted-NFE table only where a count differs from the
    requested NFE (elsewhere it repeats the column headers)."""
    ms = table_metrics(g)
    ms = [m for m in ms if _direction(m) != "none"] + [m for m in ms if _direction(m) == "none"]  # counts last
    if "nfe_measured" in ms:
        fixed = g[g["nfe"].notna()]
        if (pd.to_numeric(fixed["nfe_measured"], errors="coerce") == fixed["nfe"].astype(float)).all():
            ms.remove("nfe_measured")
    return ms


def wide_tables(df: pd.DataFrame) -> list[WideTable]:
    """Every (model, data) x table metric of ``df`` (ok rows) as a :class:`WideTable`, in the order
    of the rows and of the metric registry."""
    df = normalise_results(df)
    ok = df[df["status"] == "ok"] if "status" in df else df
    out = []
    for (model, data), g in ok.groupby(["model", "data"], sort=False):
        for m in _shown_metrics(g):
            t = wide_table(g, m, model=str(model), data=str(data))
            if t is not None:
                out.append(t)
    return out


def _table_legend(tables: list[WideTable]) -> str:
    hows = {c.how for t in tables for c in t.cells.values() if c.how}
    parts = ["Rows: samplers; columns: requested NFE (every NFE counted by a forward hook); mean over seeds. "
             "**Bold**: the best value of each NFE column (↓ lower is better, ↑ higher is better; none marked "
             "for counts)"]
    if hows:
        parts.append("[lo, hi]: " + "; ".join(sorted(INTERVAL_WORDS[h] for h in hows)))
    if any(t.seeds > 1 for t in tables):
        parts.append("seeds: noise seeds averaged (each a full cell from its own noise)")
    if any(None in t.nfes for t in tables):
        parts.append("adaptive: samplers that choose their own steps, with their counted NFE")
    return ". ".join(parts) + "."


def results_blocks(df: pd.DataFrame, *, level: int = 2) -> list:
    """Per (model, data), a heading at ``level``: the model's properties, one sampler x NFE table per
    table metric (:func:`wide_table`), the notes recorded with its rows; then the failed and
    not-applicable cells with their reasons."""
    df = normalise_results(df)
    b: list = []
    legend_done = False
    for (model, data), g in df.groupby(["model", "data"], sort=False):
        b.append(Heading(level, f"{model}" + (f" on {data}" if data else "")))
        first = g.iloc[0]
        facts = [f"{c} = {fmt(first[c], c)}" for c in registry.model_metrics() if c in g and pd.notna(first.get(c))]
        if facts:
            b.append(Para("; ".join(facts) + " (model properties" + ("; w2_floor: W2 between two held-out data sets, the held-out noise level"
                                                                    if "w2_floor" in " ".join(facts) else "") + ")."))
        ok = g[g["status"] == "ok"] if "status" in g else g
        tables = [t for m in (_shown_metrics(ok) if len(ok) else [])
                  if (t := wide_table(ok, m, model=str(model), data=str(data))) is not None]
        if not tables:
            b.append(Para("No successful cell."))
            continue
        if not legend_done:
            b.append(Para(_table_legend(wide_tables(df))))
            legend_done = True
        b += [t.to_table() for t in tables]
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


# -- the headline: the best sampler per NFE --------------------------------------------------------------
def lead_metric(g: pd.DataFrame) -> str | None:
    """The headline metric of one model's rows: the first of the registry's headline metrics
    (``Metric.headline``: fid, fd_digits, ref_rmse, w2) with a value in ``g``."""
    return next((m for m in registry.headline_metrics() if m in g and g[m].notna().any()), None)


@dataclass
class HeadlineEntry:
    model: str
    data: str
    metric: str
    nfe: int
    sampler: str
    cell: WideCell
    tied: list[str] | None = None   # samplers not distinguishable from the best (paired); None: not tested
    tied_note: str = ""             # why not tested, when not


def _tied_with(cells: list[dict], model: str, data: str, nfe: int, metric: str, best: str) -> tuple[list[str] | None, str]:
    """Samplers not distinguishable from ``best`` in the paired bootstrap test of each pair on its
    own (:func:`rfbench.reporting.paired.ranking_rows` over the two cells: same noise, same resampled
    indices), in every noise seed that has both; (None, reason) when the records cannot tell.

    Pair by pair, not all pairs at once: with B replicates a bootstrap p-value is at least about
    2 / (B + 1), and Holm's adjustment over the m (m - 1) / 2 pairs of a dozen samplers lifts that
    floor above 0.05, so no pair could ever be told apart."""
    from .paired import ranking_rows

    sub = [c for c in cells if c["model"] == model and str(c.get("data") or "") == data and c["status"] == "ok"
           and c["nfe"] is not None and int(c["nfe"]) == nfe and metric in (c.get("replicates") or {})]
    by_seed: dict = {}
    for c in sub:
        by_seed.setdefault(int(c["seed"]), {})[c["sampler"]] = c
    seeds = [group for group in by_seed.values() if best in group]
    if not seeds:
        return None, "the best cell has no bootstrap replicates"
    tied: set[str] | None = None
    for group in seeds:
        here = set()
        for name, c in group.items():
            if name == best:
                continue
            try:
                rows = ranking_rows([group[best], c], nfe=nfe, metrics=[metric])
            except InvalidInputError as exc:  # cells resampled with different plans
                return None, str(exc)
            if all(r["with_best"] for r in rows):
                here.add(name)
        tied = here if tied is None else tied & here
    return sorted(tied or ()), ""


def headline(df: pd.DataFrame, cells: list[dict] | None = None) -> list[HeadlineEntry]:
    """Per (model, data) and requested NFE, the sampler with the best mean of the model's
    :func:`lead_metric` (registry direction), its interval, and, with ``cells`` (cell records with
    bootstrap replicates), the samplers statistically indistinguishable from it."""
    norm = normalise_results(df)
    ok = norm[norm["status"] == "ok"] if "status" in norm else norm
    lead = {(str(m), str(d)): lead_metric(g) for (m, d), g in ok.groupby(["model", "data"], sort=False)}
    out = []
    for t in wide_tables(df):
        if t.metric != lead.get((t.model, t.data)):
            continue
        sign = 1.0 if t.direction != "higher" else -1.0
        for n in t.nfes:
            if n is None:
                continue
            col = [(s, c) for (s, k), c in t.cells.items() if k == n and math.isfinite(c.mean)]
            if not col:
                continue
            s, c = min(col, key=lambda sc: (sign * sc[1].mean, sc[0]))
            e = HeadlineEntry(t.model, t.data, t.metric, n, s, c)
            if cells is None:
                e.tied_note = "no cell records"
            elif len(col) > 1:
                e.tied, e.tied_note = _tied_with(cells, t.model, t.data, n, t.metric, s)
            else:
                e.tied = []
            out.append(e)
    return out


MAX_TIED_SHOWN = 4


def _headline_text(e: HeadlineEntry) -> str:
    t = f"**{e.sampler}** {fmt(e.cell.mean, e.metric)}"
    if e.cell.how:
        t += f" [{fmt(e.cell.lo, e.metric)}, {fmt(e.cell.hi, e.metric)}]"
    if e.tied:
        names = e.tied[:MAX_TIED_SHOWN] + ([f"+{len(e.tied) - MAX_TIED_SHOWN} more"] if len(e.tied) > MAX_TIED_SHOWN else [])
        t += "; ≈ " + ", ".join(names)
    return t


def headline_table(entries: list[HeadlineEntry]) -> Table:
    """Rows: NFE; one column per (model, data) with its lead metric and direction."""
    models = list(dict.fromkeys((e.model, e.data, e.metric) for e in entries))
    nfes = sorted({e.nfe for e in entries})
    at = {(e.model, e.data, e.nfe): e for e in entries}
    header = ["NFE"] + [m + (f" on {d}" if d else "") + f": {metric}" + (" ↑" if _direction(metric) == "higher" else " ↓")
                        for m, d, metric in models]
    rows = [[str(n)] + [_headline_text(at[(m, d, n)]) if (m, d, n) in at else "—" for m, d, _ in models] for n in nfes]
    return Table(header, rows)


def headline_blocks(df: pd.DataFrame, cells: list[dict] | None = None, *, level: int = 2) -> list:
    entries = headline(df, cells)
    b: list = [Heading(level, "Headline: the best sampler at each NFE")]
    if not entries:
        return b + [Para("No successful cell with a headline metric (fid, fd_digits, ref_rmse or w2) in this run.")]
    hows = {e.cell.how for e in entries if e.cell.how}
    text = ("Per model, the sampler with the best mean of the model's lead metric (the first of "
            f"{', '.join(registry.headline_metrics())} it has; ↓ lower is better, ↑ higher) at each requested NFE")
    if hows:
        text += "; [lo, hi]: " + "; ".join(sorted(INTERVAL_WORDS[h] for h in hows))
    if any(e.tied is not None for e in entries):
        text += ("; ≈: samplers not distinguishable from the best in a paired bootstrap test at the 95% level (same "
                 "noise, same resampled indices; each sampler against the best on its own, no multiplicity "
                 "adjustment; in every seed when several)")
    notes = sorted({e.tied_note for e in entries if e.tied is None and e.tied_note})
    if notes:
        text += "; not tested for indistinguishable samplers where " + "; ".join(notes)
    b += [Para(text + ". Full tables under Results."), headline_table(entries)]
    return b


# -- LaTeX export ----------------------------------------------------------------------------------------
def latex_tables(df: pd.DataFrame, cells: list[dict] | None = None, *, source: str = "") -> str:
    """tables.tex: the headline, then one booktabs table per (model, data) and table metric, the
    best of each NFE column in bold (``\\usepackage{booktabs}``; ``\\input`` it)."""
    out = [f"% rfbench {__version__}: sampler x NFE tables" + (f" of {source}" if source else ""),
           "% needs \\usepackage{booktabs}; bold: the best value of each NFE column; [lo, hi]: 95% interval", ""]
    entries = headline(df, cells)
    if entries:
        out.append(table_to_latex(headline_table(entries), caption="Best sampler at each NFE (mean; ≈: not "
                                  "distinguishable from the best, paired bootstrap)", label="tab:rfbench-headline"))
    for t in wide_tables(df):
        direction = {"lower": ", lower is better", "higher": ", higher is better"}.get(t.direction, "")
        cap = f"{t.title()}: {t.metric}{direction}; rows: samplers, columns: NFE"
        if t.seeds > 1:
            cap += f"; mean over {t.seeds} seeds"
        out.append(table_to_latex(t.to_table(), caption=cap, label="tab:rfbench-" + "-".join(p for p in (t.model, t.data, t.metric) if p)))
    return "\n".join(out)


__all__ = ["ENV_COLUMNS", "RESULT_COLUMNS", "HeadlineEntry", "WideCell", "WideTable", "environment_line", "headline",
           "headline_blocks", "headline_table", "latex_tables", "lead_metric", "results_blocks", "results_frame",
           "table_metrics", "value_interval", "wide_table", "wide_tables"]
