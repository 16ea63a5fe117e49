"""Result files of a sweep: results.csv, results.md and metric-vs-NFE figures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..cache import atomic_write_text
from .sweep import COLUMNS

PLOT_METRICS = ("ref_rmse", "w2", "fd_digits", "fid", "lpips")


def to_frame(rows: list[dict], metrics: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows as a frame, fixed columns first; every metric the suite asked for gets a column, empty
    where it could not be computed (the row's notes say why)."""
    df = pd.DataFrame(rows)
    for m in metrics:
        if m not in df.columns:
            df[m] = float("nan")
    lead = [c for c in COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in lead]
    df = df[lead + rest]
    if "nfe" in df.columns:
        df["nfe"] = df["nfe"].astype("Int64")
    return df


def _fmt(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def markdown(df: pd.DataFrame, suite_name: str, summary: dict | None = None) -> str:
    """One table per model: metric columns per (sampler, NFE) (with their 95% interval where the row
    has one), plus failures with reasons; with several seeds, mean and t-interval across them."""
    lines = [f"# rfbench suite `{suite_name}`", ""]
    if summary:
        lines += [", ".join(f"{k}: {v}" for k, v in summary.items()), ""]
    env_cols = [c for c in ("device", "device_name", "torch_version", "rfbench_version", "git_commit") if c in df]
    if env_cols and len(df):
        lines += ["Environment: " + ", ".join(f"{c}={df[c].iloc[0]}" for c in env_cols), ""]
    metric_cols = [c for c in ("nfe_measured", "nfe_refiner", "ref_rmse", "w2", "sw2", "fd_digits", "fid", "precision",
                               "recall", "fd_unverified", "lpips", "lpips_unverified", "psnr", "inversion_rmse",
                               "wall_clock_s", "calib_s", "compile_s")
                   if c in df.columns and df[c].notna().any()]
    for (model, data), group in df.groupby(["model", df["data"].fillna("")], sort=False):
        title = f"## {model}" + (f" on {data}" if data else "")
        lines += [title, ""]
        first = group.iloc[0]
        facts = []
        for col in ("straightness", "w2_floor", "ref_nfe"):
            if col in group and pd.notna(first.get(col)):
                facts.append(f"{col} = {_fmt(first[col])}")
        if facts:
            lines += ["; ".join(facts) + " (model properties; w2_floor is W2 between two held-out data sets)", ""]
        ok = group[group["status"] == "ok"]
        header = ["sampler", "nfe"] + metric_cols
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for _, r in ok.iterrows():
            lines.append("| " + " | ".join(_fmt(r.get(c)) + _interval(r, c) for c in header) + " |")
        notes = sorted({str(v) for v in ok["notes"].dropna() if str(v).strip()}) if "notes" in ok else []
        if notes:
            lines += ["", "Notes (metrics not computed or not reported, and why):", ""] + [f"- {n}" for n in notes]
        for status, title in (("failed", "Failed cells"), ("not-applicable", "Not applicable")):
            bad = group[group["status"] == status]
            if len(bad):
                lines += ["", f"{title}:", ""]
                for _, r in bad.iterrows():
                    lines.append(f"- {r['sampler']} nfe={_fmt(r['nfe'])}: {r['reason']}")
        lines.append("")
    lines += _across_seeds(df, metric_cols)  # issue 16
    return "\n".join(lines)


def _interval(r, col: str) -> str:
    """Issue 16: ' [lo, hi]' after a value whose row carries its interval."""
    lo, hi = r.get(f"{col}_lo"), r.get(f"{col}_hi")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return ""
    return f" [{_fmt(lo)}, {_fmt(hi)}]"


def _across_seeds(df: pd.DataFrame, metric_cols: list[str]) -> list[str]:
    """Issue 16: mean and t-interval across seeds when the run has several."""
    from ..reporting.paired import seeds_blocks
    from ..reporting.render import blocks_to_markdown

    blocks = seeds_blocks(df, [c for c in metric_cols if c != "nfe_measured"], level=2)
    return [blocks_to_markdown(blocks), ""] if blocks else []


def plot_metric(df: pd.DataFrame, metric: str, path: Path, suite_name: str) -> Path | None:
    """Metric vs measured NFE, one line per sampler, one panel per model (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = df[(df["status"] == "ok") & df[metric].notna()] if metric in df else df.iloc[0:0]
    if ok.empty:
        return None
    ok = ok.assign(panel=ok["model"] + ok["data"].fillna("").map(lambda d: f" ({d})" if d else ""))
    fixed, adaptive = ok[ok["nfe"].notna()], ok[ok["nfe"].isna()]
    if fixed.empty:
        return None
    g = sns.relplot(data=fixed, x="nfe_measured", y=metric, hue="sampler", style="sampler", col="panel",
                    col_wrap=min(3, fixed["panel"].nunique()), kind="line", markers=True, dashes=False,
                    facet_kws={"sharey": False}, height=3.2, aspect=1.2)
    for panel, ax in g.axes_dict.items():
        # adaptive samplers choose their NFE: a dashed level (its NFE in the table), not a point far right
        for sampler, rows in adaptive[adaptive["panel"] == panel].groupby("sampler"):
            ax.axhline(float(rows[metric].mean()), color="grey", ls="--", lw=1)
            ax.annotate(f"{sampler} (adaptive)", (0.02, float(rows[metric].mean())), xycoords=("axes fraction", "data"),
                        fontsize=7, color="grey", va="bottom")
        floor = ok.loc[ok["panel"] == panel, "w2_floor"].dropna() if metric == "w2" and "w2_floor" in ok else []
        if len(floor):
            ax.axhline(float(floor.iloc[0]), color="black", ls=":", lw=1)
            ax.annotate("w2_floor (held-out vs held-out)", (0.98, float(floor.iloc[0])),
                        xycoords=("axes fraction", "data"), fontsize=7, ha="right", va="top")
    g.set(xscale="log", yscale="log")
    g.set_axis_labels("NFE (measured)", metric)
    g.set_titles("{col_name}")
    g.figure.suptitle(f"{suite_name}: {metric} vs NFE", y=1.02)
    g.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(g.figure)
    return path


def write_outputs(rows: list[dict], out_dir: str | Path, suite_name: str, summary: dict | None = None,
                  metrics: tuple[str, ...] = ()) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = to_frame(rows, metrics)
    atomic_write_text(out / "results.csv", df.to_csv(index=False))
    atomic_write_text(out / "results.md", markdown(df, suite_name, summary))
    plots = [str(p) for m in PLOT_METRICS if (p := plot_metric(df, m, out / f"{m}_vs_nfe.png", suite_name))]
    meta = {"suite": suite_name, "summary": summary or {}, "plots": plots}
    atomic_write_text(out / "run.json", json.dumps(meta, indent=1))
    return {"csv": out / "results.csv", "md": out / "results.md", "plots": plots, "frame": df}
