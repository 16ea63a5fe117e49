"""The one figure renderer (the runner's outputs and the report): metric vs NFE per model, with
published points overlaid where given, and quality vs wall clock with the Pareto front highlighted.
Seaborn (lines, points, palette) on matplotlib's Agg backend; PNG files. Which metrics get which
figure is the metric registry's (``Metric.vs_nfe``, ``Metric.pareto``)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..metrics import registry
from .compare import normalise_results
from .names import dataset_key, model_key
from .paired import error_band


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(df: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    out = []
    for (model, data), g in df.groupby(["model", "data"], sort=False):
        out.append((str(model), str(data), g))
    return out


def _scale(ax, which: str, values) -> None:
    """Log scale with plain labels when the positive values span a decade or more, else linear
    (a log axis over a short span gets no or crowded labels)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    vals = [float(v) for v in values if v == v]
    if not vals or min(vals) <= 0 or max(vals) / min(vals) < 10:
        return
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if max(vals) / min(vals) < 100:  # short span: also label 2x and 5x
        axis.set_minor_formatter(FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    else:
        axis.set_minor_formatter(NullFormatter())


def _nfe_ticks(ax, xs: list[float]) -> None:
    """Label the NFE values themselves, skipping ones too close (in log space) to the previous."""
    from matplotlib.ticker import NullFormatter

    kept: list[float] = []
    for x in sorted(x for x in xs if x > 0):
        if not kept or math.log10(x) - math.log10(kept[-1]) > 0.09:
            kept.append(x)
    ax.set_xticks(kept)
    ax.set_xticklabels([f"{x:g}" for x in kept], fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())


def _grid(n: int, plt, width: float = 4.2, height: float = 3.3):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def vs_nfe_metrics(df: pd.DataFrame) -> list[str]:
    """The registry's metric-vs-NFE metrics that have a value in ``df``."""
    return [m for m in registry.vs_nfe_metrics() if m in df.columns and df[m].notna().any()]


def pareto_metrics(df: pd.DataFrame) -> list[str]:
    """The registry's quality metrics for Pareto figures, in rank order, that have a value in ``df``."""
    return [m for m in registry.pareto_metrics() if m in df.columns and df[m].notna().any()]


def _colors(names: list[str]) -> dict[str, tuple]:
    import seaborn as sns

    palette = sns.color_palette("tab10" if len(names) <= 10 else "tab20")
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


MARKERS = "osD^vP*Xph<>"


def _markers(names: list[str]) -> dict[str, str]:
    """Markers that, with the colours, tell apart more samplers than a colour map has colours."""
    return {n: MARKERS[(i // 10) % len(MARKERS)] if len(names) > 10 else "o" for i, n in enumerate(names)}


def _legend(fig, axes, *, max_inline: int = 8) -> None:
    """Per-panel legends when short; otherwise one legend for the figure, outside on the right."""
    entries: dict = {}
    for ax in axes:
        if ax.get_visible():
            for h, label in zip(*ax.get_legend_handles_labels()):
                entries.setdefault(label, h)
    if len(entries) <= max_inline:
        for ax in axes:
            if ax.get_visible() and ax.get_legend_handles_labels()[0]:
                handles, labels = ax.get_legend_handles_labels()
                uniq = dict(zip(labels, handles))
                ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="best")
        return
    fig.legend(entries.values(), entries.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5),
               frameon=False)


def _finish(fig, axes, path: Path, title: str, plt) -> None:
    """Legend, title, layout; save and close."""
    _legend(fig, axes)
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def published_points(published: pd.DataFrame | None, model: str, data: str, metric: str,
                     model_map: dict | None = None, conditioning: str = "unconditional") -> pd.DataFrame:
    """Published rows for the model's (family, variant), conditioning, dataset and metric with a
    stated NFE (any sampler: the plot compares samplers)."""
    if published is None or published.empty:
        return pd.DataFrame(columns=["nfe_num", "value_num", "sampler", "paper"])
    family, variant, _ = model_key(model, model_map)
    sel = published[(published["family"] == family) & (published["variant"] == variant)
                    & (published["conditioning"] == conditioning) & (published["dataset"] == dataset_key(data))
                    & (published["metric"] == metric) & published["nfe_num"].notna()]
    return sel


def metric_vs_nfe(df: pd.DataFrame, metric: str, path: Path, *, title: str = "",
                  published: pd.DataFrame | None = None, model_map: dict | None = None) -> tuple[Path, int] | None:
    """One panel per (model, data): metric vs counted NFE (log x; log y over a decade or more), one
    line per sampler (mean over seeds; adaptive samplers as a dashed level: their NFE is an outcome),
    with a band for the 95% interval where the rows carry one (one seed: the bootstrap interval;
    several: the t-interval across seeds).
    For w2, the held-out noise floor ``w2_floor`` as a dotted line. Published values for the same
    model, dataset and metric are overlaid as black stars labelled with the paper's sampler. Returns
    (path, number of published points drawn) or None when no row has the metric."""
    df = normalise_results(df)
    ok = df[(df["status"] == "ok") & df[metric].notna() & df["nfe_measured"].notna()] if metric in df else df.iloc[0:0]
    if ok.empty:
        return None
    import seaborn as sns

    plt = _plt()
    panels = _panels(ok)
    colors = _colors(list(dict.fromkeys(ok["sampler"])))
    fig, axes = _grid(len(panels), plt)
    n_pub = 0
    markers = _markers(list(colors))
    for ax, (model, data, g) in zip(axes, panels):
        for sampler, s in g.groupby("sampler", sort=False):
            pts = s.groupby("nfe_measured")[metric].mean().sort_index()
            style = dict(marker=markers[sampler], ms=4, lw=1.4, color=colors[sampler], label=sampler)
            if s["nfe"].isna().all():  # adaptive: its NFE is an outcome; a level, not a point far right
                ax.axhline(float(pts.mean()), color=colors[sampler], ls="--", lw=1.1,
                           label=f"{sampler} (adaptive: dashed level)")
            else:
                ms, lw = style.pop("ms"), style.pop("lw")
                sns.lineplot(x=list(pts.index), y=list(pts.values), ax=ax, legend=False, markersize=ms,
                             linewidth=lw if len(pts) > 1 else 0, **style)
            band = error_band(s[s["nfe"].notna()], metric)  # 95% intervals as a band / error bars
            if band is not None and not s["nfe"].isna().all():
                if len(band) > 1:
                    ax.fill_between(band.index, band["lo"], band["hi"], color=colors[sampler], alpha=0.15, lw=0)
                else:
                    ax.errorbar(band.index, pts.reindex(band.index), yerr=[pts.reindex(band.index) - band["lo"],
                                band["hi"] - pts.reindex(band.index)], fmt="none", ecolor=colors[sampler], capsize=3)
        if metric == "w2" and "w2_floor" in g and g["w2_floor"].notna().any():
            ax.axhline(float(g["w2_floor"].dropna().iloc[0]), color="black", ls=":", lw=1,
                       label="w2_floor (held-out vs held-out)")
        cond = str(g["conditioning"].iloc[0]) if "conditioning" in g and g["conditioning"].notna().any() \
            else "unconditional"
        pub = published_points(published, model, data, metric, model_map, cond)
        for _, p in pub.iterrows():
            ax.plot([p["nfe_num"]], [p["value_num"]], marker="*", ms=13, color="black", mfc="gold", ls="none",
                    label=f"published: {p['sampler']} ({p['paper'].split(' (')[0]})")
            n_pub += 1
        ax.set_xscale("log")  # NFE: always log, ticks at the NFE values
        _scale(ax, "y", list(g[metric]) + (list(pub["value_num"]) if len(pub) else []))
        ax.set_title(f"{model}" + (f" ({data})" if data else ""), fontsize=10)
        fixed = g[g["nfe"].notna()] if g["nfe"].notna().any() else g
        xs = sorted(set(fixed["nfe_measured"].astype(float)) | set(pub["nfe_num"].astype(float) if len(pub) else []))
        if len(xs) <= 14:
            _nfe_ticks(ax, xs)
        ax.set_xlabel("NFE (counted)")
        ax.set_ylabel(metric)
        ax.grid(True, which="both", alpha=0.25)
    _finish(fig, axes, path, title or f"{metric} vs NFE", plt)
    return path, n_pub


def pareto_front(times: list[float], values: list[float]) -> list[int]:
    """Indices of the points no other point beats in both time and value (lower is better),
    sorted by time."""
    order = sorted(range(len(times)), key=lambda i: (times[i], values[i]))
    front, best = [], math.inf
    for i in order:
        if values[i] < best:
            front.append(i)
            best = values[i]
    return front


def pareto(df: pd.DataFrame, metric: str, path: Path, *, title: str = "") -> Path | None:
    """Per (model, data): metric vs wall_clock_s for every (sampler, NFE) cell (mean over seeds),
    the Pareto front (no other cell is both faster and better) drawn as a step line with the front
    cells labelled sampler@NFE."""
    need = {metric, "wall_clock_s"}
    if not need.issubset(df.columns):
        return None
    df = normalise_results(df)
    ok = df[(df["status"] == "ok") & df[metric].notna() & df["wall_clock_s"].notna()]
    if ok.empty:
        return None
    import seaborn as sns

    plt = _plt()
    panels = _panels(ok)
    colors = _colors(list(dict.fromkeys(ok["sampler"])))
    fig, axes = _grid(len(panels), plt, width=4.6, height=3.6)
    for ax, (model, data, g) in zip(axes, panels):
        cells = g.groupby(["sampler", g["nfe_measured"].fillna(-1)], sort=False).agg(
            t=("wall_clock_s", "mean"), v=(metric, "mean")).reset_index()
        markers = _markers(list(colors))
        for sampler, s in cells.groupby("sampler", sort=False):
            sns.scatterplot(x=list(s["t"]), y=list(s["v"]), ax=ax, s=18, color=colors[sampler], marker=markers[sampler],
                            label=sampler, alpha=0.85, legend=False)
        front = pareto_front(list(cells["t"]), list(cells["v"]))
        ft, fv = cells["t"].iloc[front], cells["v"].iloc[front]
        ax.step(ft, fv, where="post", color="black", lw=1.2, alpha=0.8, label="Pareto front")
        if metric == "w2" and "w2_floor" in g and g["w2_floor"].notna().any():
            ax.axhline(float(g["w2_floor"].dropna().iloc[0]), color="grey", ls="--", lw=1, label="w2_floor")
        ax.scatter(ft, fv, s=60, facecolors="none", edgecolors="black", lw=1.2)
        for i in front:
            c = cells.iloc[i]
            nfe = "ad" if c["nfe_measured"] < 0 else f"{c['nfe_measured']:g}"
            ax.annotate(f"{c['sampler']}@{nfe}", (c["t"], c["v"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        _scale(ax, "x", list(cells["t"]))
        _scale(ax, "y", list(cells["v"]))
        ax.set_title(f"{model}" + (f" ({data})" if data else ""), fontsize=10)
        ax.set_xlabel("wall clock per batch (s)")
        ax.set_ylabel(metric)
        ax.grid(True, which="both", alpha=0.25)
    _finish(fig, axes, path, title or f"{metric} vs wall clock (Pareto front)", plt)
    return path


__all__ = ["metric_vs_nfe", "pareto", "pareto_front", "pareto_metrics", "published_points", "vs_nfe_metrics"]
