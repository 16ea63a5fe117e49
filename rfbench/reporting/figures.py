"""The one figure renderer (the runner's outputs and the report): metric vs NFE per model, with
published points overlaid where given, and quality vs wall clock with the Pareto front highlighted.
Seaborn (lines, points, palette) on matplotlib's Agg backend; PNG files. Which metrics get which
figure is the metric registry's (``Metric.vs_nfe``, ``Metric.pareto``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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


def plain(v: float) -> str:
    """A tick label without mathtext or offsets: 732, 0.05, 2.5e-4 (never "7.32x10^2")."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else ""
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.3g}"
    mant, exp = f"{v:.2e}".split("e")
    return f"{float(mant):.3g}e{int(exp)}"


def _scale(ax, which: str, values) -> None:
    """Log scale when the positive values span a decade or more, else linear (a log axis over a short
    span gets no or crowded labels); plain tick labels either way."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    fmt = FuncFormatter(lambda v, _: plain(v))
    vals = [float(v) for v in values if v == v]
    if not vals or min(vals) <= 0 or max(vals) / min(vals) < 10:
        axis.set_major_formatter(fmt)  # linear: no "1e-3" offset text above the axis
        return
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10, numticks=12))
    axis.set_major_formatter(fmt)
    if max(vals) / min(vals) < 100:  # short span: also label 2x and 5x
        axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0), numticks=12))
        axis.set_minor_formatter(fmt)
    else:
        axis.set_minor_formatter(NullFormatter())


def _nfe_ticks(ax, xs: list[float]) -> None:
    """Ticks at the measured NFE values, labelled plainly, skipping ones too close (in log space)
    to the previous label to be read."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    kept: list[float] = []
    for x in sorted(x for x in xs if x > 0):
        if not kept or math.log10(x) - math.log10(kept[-1]) > 0.09:
            kept.append(x)
    ax.xaxis.set_major_locator(FixedLocator(kept))
    ax.set_xticklabels([plain(x) for x in kept], fontsize=8)
    ax.xaxis.set_minor_locator(NullLocator())
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


# -- palette: a family's samplers share a hue (shades), and each has its own marker --------------------
# (family, hue in HLS, module suffixes of the samplers' functions); the order is the legend's
FAMILIES = [
    ("Euler / Heun / RK", 0.60, ("classic", "adaptive", "rf_solver", "diffusion")),
    ("DPM-Solver", 0.02, ("dpm_solver",)),
    ("UniPC / DEIS / iPNDM", 0.36, ("unipc", "deis", "ipndm")),
    ("library adapters", 0.78, ("adapters",)),
    ("BOSS / FlowTurbo", 0.11, ("boss", "flowturbo")),
    ("other", None, ()),
]
MARKERS = "os^Dvp*XPh<>d8H"
_BY_NAME = {"ddim": "DPM-Solver"}  # DDIM is DPM-Solver-1 (the first-order exponential integrator)


def sampler_family(name: str) -> str:
    """The palette family of a sampler: from the module that defines it (names with ':' are library
    adapters), 'other' for samplers from outside rfbench."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if ":" in name:
        return "library adapters"
    module = ""
    try:
        from ..samplers import SAMPLERS

        if name in SAMPLERS:
            module = getattr(SAMPLERS.get(name).fn, "__module__", "") or ""
    except Exception:  # noqa: BLE001  (a palette never fails a figure)
        pass
    if module.startswith("rfbench.samplers."):
        part = module.split(".")[2]
        for family, _, modules in FAMILIES:
            if part in modules:
                return family
    return "other"


def palette(names: list[str]) -> dict[str, tuple[tuple[float, float, float], str, str]]:
    """``name -> (colour, marker, family)`` for the samplers of a figure, in legend order (families,
    then the sampler registry's order).

    Within a family the colours are shades of the family's hue (dark to light) and the markers all
    differ, so every (colour, marker) pair is unique: the colour tells the family, the marker the
    member, and 15 or more samplers stay distinguishable in print."""
    import colorsys

    groups: dict[str, list[str]] = {f: [] for f, _, _ in FAMILIES}
    try:  # within a family: registry order (stable across figures), then the others as given
        from ..samplers import SAMPLERS

        rank = {n: i for i, n in enumerate(SAMPLERS)}
    except Exception:  # noqa: BLE001
        rank = {}
    for n in sorted(dict.fromkeys(names), key=lambda n: rank.get(n, len(rank))):
        groups[sampler_family(n)].append(n)
    out = {}
    for family, hue, _ in FAMILIES:
        members = groups[family]
        for i, n in enumerate(members):
            # lightness from 0.28 to 0.62 across the family; saturation high but not garish
            light = 0.28 + 0.34 * (i / max(1, len(members) - 1)) if len(members) > 1 else 0.42
            rgb = (colorsys.hls_to_rgb(hue, light, 0.75) if hue is not None
                   else colorsys.hls_to_rgb(0.0, light, 0.0))
            out[n] = (tuple(round(c, 4) for c in rgb), MARKERS[i % len(MARKERS)], family)
    return out


def _legend(fig, axes, families: dict[str, str] | None = None) -> None:
    """One legend for the figure, outside the axes on the right, samplers grouped under their family
    (bold headers), then the other entries (guides, bands, published points)."""
    from matplotlib.lines import Line2D

    entries: dict = {}
    for ax in axes:
        if ax.get_visible():
            for h, label in zip(*ax.get_legend_handles_labels()):
                entries.setdefault(label, h)
    if not entries:
        return
    families = families or {}
    handles, labels, headers = [], [], set()
    for family, _, _ in FAMILIES:
        members = [lab for lab in entries if families.get(lab) == family]
        if not members:
            continue
        if len(families) > 1:
            headers.add(len(labels))
            handles.append(Line2D([], [], ls="none"))
            labels.append(family)
        for lab in members:
            handles.append(entries[lab])
            labels.append(lab)
    for lab, h in entries.items():
        if lab not in families:
            handles.append(h)
            labels.append(lab)
    height = fig.get_size_inches()[1]
    per_col = max(10, int(height / 0.17))
    ncol = math.ceil(len(labels) / per_col)
    leg = fig.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 0.98), frameon=False,
                     ncol=ncol, handlelength=2.2)
    for i, text in enumerate(leg.get_texts()):
        if i in headers:
            text.set_fontweight("bold")


def _finish(fig, axes, title: str, families: dict[str, str] | None = None) -> None:
    """Title, layout, legend outside the axes."""
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    _legend(fig, axes, families)


def _save(fig, path: Path) -> Path:
    plt = _plt()
    try:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


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


MAX_BANDS = 6  # panels with more samplers draw their intervals as error bars, not shaded bands
SLOPE_GUIDE_METRICS = ("ref_rmse",)  # solver errors against an exact reference: their slope is the order
GUIDE_ORDERS = (1, 2, 3)
NOISE_LEVEL_LABEL = "held-out noise level\n(W2 between two held-out data sets;\nat or below it: within sampling noise)"


def _noise_level(ax, g: pd.DataFrame) -> None:
    """w2's held-out noise level (the ``w2_floor`` column): W2 between two held-out data sets of the
    run's size. Not a bound: a sampler can land below it by chance; values in the band are within
    sampling noise of the data. Drawn as a band up to it, with its meaning in the legend."""
    if "w2_floor" not in g or not g["w2_floor"].notna().any():
        return
    level = float(g["w2_floor"].dropna().median())
    lo, hi = ax.get_ylim()
    lo = min(lo, level * 0.8) if ax.get_yscale() == "log" else min(lo, 0.0)
    ax.axhspan(lo if ax.get_yscale() != "log" else lo * 1e-3, level, color="0.6", alpha=0.2, lw=0,
               label=NOISE_LEVEL_LABEL)
    ax.axhline(level, color="0.35", ls=":", lw=1)
    ax.set_ylim(lo, max(hi, level * 1.1))


def _slope_guides(ax, x_min: float, x_max: float, at_max: list[float]) -> None:
    """Grey lines error ~ NFE^-p for p = 1, 2, 3 through the geometric mean of the samplers' errors
    at the largest NFE, over the upper half (in log) of the NFE range; clipped to the data's y range
    so they never stretch the axis."""
    at_max = [y for y in at_max if y > 0 and math.isfinite(y)]
    if not at_max or x_min <= 0 or x_max / x_min < 2:
        return
    y0 = math.exp(sum(math.log(y) for y in at_max) / len(at_max))
    x_lo = math.sqrt(x_min * x_max)
    lim = ax.get_ylim()
    for p, ls in zip(GUIDE_ORDERS, (":", "--", "-.")):
        ax.plot([x_lo, x_max], [y0 * (x_lo / x_max) ** -p, y0], color="0.15", ls=ls, lw=1.4, zorder=3,
                label=f"slope guide: order {p}")
    ax.set_ylim(lim)


def metric_vs_nfe(df: pd.DataFrame, metric: str, path: Path, *, title: str = "",
                  published: pd.DataFrame | None = None, model_map: dict | None = None) -> tuple[Path, int] | None:
    """:func:`metric_vs_nfe_figure` saved as a PNG at ``path``: (path, published points drawn), or None."""
    drawn = metric_vs_nfe_figure(df, metric, title=title, published=published, model_map=model_map)
    return None if drawn is None else (_save(drawn[0], path), drawn[1])


def metric_vs_nfe_figure(df: pd.DataFrame, metric: str, *, title: str = "", published: pd.DataFrame | None = None,
                         model_map: dict | None = None):
    """One panel per (model, data): metric vs counted NFE (log x with ticks at the measured NFE; log y
    over a decade or more; plain labels), one line per sampler (mean over seeds; adaptive samplers as
    a dashed level: their NFE is an outcome), coloured by family with a marker per sampler
    (:func:`palette`), with a band for the 95% interval where the rows carry one (one seed: the
    bootstrap interval; several: the t-interval across seeds); error bars instead of bands in panels
    with more than MAX_BANDS samplers.
    For ref_rmse, slope guides for orders 1-3; for w2, the held-out noise level (``w2_floor``) as a
    band. Published values for the same model, dataset and metric are overlaid as gold stars labelled
    with the paper's sampler. One legend outside the axes. Returns (figure, number of published points
    drawn) or None when no row has the metric."""
    df = normalise_results(df)
    ok = df[(df["status"] == "ok") & df[metric].notna() & df["nfe_measured"].notna()] if metric in df else df.iloc[0:0]
    if ok.empty:
        return None
    import seaborn as sns

    plt = _plt()
    panels = _panels(ok)
    pal = palette(list(dict.fromkeys(ok["sampler"])))
    order = list(pal)
    fig, axes = _grid(len(panels), plt)
    n_pub = 0
    families: dict[str, str] = {}
    for ax, (model, data, g) in zip(axes, panels):
        guide_x, guide_y = [], []
        crowded = g["sampler"].nunique() > MAX_BANDS
        for sampler, s in sorted(g.groupby("sampler", sort=False), key=lambda kv: order.index(kv[0])):
            color, marker, family = pal[sampler]
            pts = s.groupby("nfe_measured")[metric].mean().sort_index()
            if s["nfe"].isna().all():  # adaptive: its NFE is an outcome; a level, not a point far right
                label = f"{sampler} (adaptive: dashed level)"
                ax.axhline(float(pts.mean()), color=color, ls="--", lw=1.1, label=label)
            else:
                label = sampler
                sns.lineplot(x=list(pts.index), y=list(pts.values), ax=ax, legend=False, marker=marker,
                             markersize=5, linewidth=1.3 if len(pts) > 1 else 0, color=color, label=label,
                             markeredgecolor="white", markeredgewidth=0.4)
                guide_x.append(float(pts.index[-1]))
                guide_y.append(float(pts.values[-1]))
            families[label] = family
            band = error_band(s[s["nfe"].notna()], metric)  # 95% intervals as a band / error bars
            if band is not None and not s["nfe"].isna().all():
                if len(band) > 1 and crowded:  # many overlapping bands read as one blot: thin error bars
                    mid = pts.reindex(band.index)
                    ax.errorbar(band.index, mid, yerr=[(mid - band["lo"]).clip(lower=0), (band["hi"] - mid).clip(lower=0)],
                                fmt="none", ecolor=color, elinewidth=0.7, alpha=0.6, capsize=0)
                elif len(band) > 1:
                    ax.fill_between(band.index, band["lo"], band["hi"], color=color, alpha=0.12, lw=0)
                else:
                    ax.errorbar(band.index, pts.reindex(band.index), yerr=[pts.reindex(band.index) - band["lo"],
                                band["hi"] - pts.reindex(band.index)], fmt="none", ecolor=color, capsize=3)
        cond = str(g["conditioning"].iloc[0]) if "conditioning" in g and g["conditioning"].notna().any() \
            else "unconditional"
        pub = published_points(published, model, data, metric, model_map, cond)
        for _, p in pub.iterrows():
            ax.plot([p["nfe_num"]], [p["value_num"]], marker="*", ms=13, color="black", mfc="gold", ls="none",
                    label=f"published: {p['sampler']} ({p['paper'].split(' (')[0]})")
            n_pub += 1
        ax.set_xscale("log")  # NFE: always log, ticks at the measured NFE values
        _scale(ax, "y", list(g[metric]) + (list(pub["value_num"]) if len(pub) else []))
        if metric == "w2":
            _noise_level(ax, g)
        if metric in SLOPE_GUIDE_METRICS and ax.get_yscale() == "log" and guide_x:
            top = max(guide_x)  # through the samplers' errors at the largest NFE
            fixed_x = g.loc[g["nfe"].notna(), "nfe_measured"].astype(float)
            _slope_guides(ax, float(fixed_x.min()), top, [y for x, y in zip(guide_x, guide_y) if x == top])
        ax.set_title(f"{model}" + (f" ({data})" if data else ""), fontsize=10)
        fixed = g[g["nfe"].notna()] if g["nfe"].notna().any() else g
        xs = sorted(set(fixed["nfe_measured"].astype(float)) | set(pub["nfe_num"].astype(float) if len(pub) else []))
        _nfe_ticks(ax, xs)
        ax.set_xlabel("NFE (counted)")
        ax.set_ylabel(metric)
        ax.grid(True, which="major", alpha=0.25)
    _finish(fig, axes, title or f"{metric} vs NFE", families)
    return fig, n_pub


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


def timing_spread(g: pd.DataFrame) -> float | None:
    """The relative spread of one panel's wall-clock timings: the median over its cells of
    (max - min) / median, across the timed repeats of a cell (``wall_clock_spread``, written by the
    timing metric) and across seeds; None when neither was recorded."""
    spreads = []
    for _, c in g.groupby(["sampler", g["nfe_measured"].fillna(-1)], sort=False):
        own = [float(v) for v in c.get("wall_clock_spread", pd.Series(dtype=float)).dropna()]
        t = [float(v) for v in c["wall_clock_s"].dropna()]
        if len(t) >= 2 and sum(t) > 0:
            own.append((max(t) - min(t)) / (sorted(t)[len(t) // 2] or 1e-12))
        if own:
            spreads.append(max(own))
    return None if not spreads else float(sorted(spreads)[len(spreads) // 2])


def timing_verdict(cells: pd.DataFrame, spread: float | None) -> tuple[bool, str]:
    """Whether a Pareto front can be drawn on one panel's timings. ``cells``: sampler, nfe_measured
    (-1: adaptive) and t (seconds) per cell. A front orders cells by time, and the time differences
    between cells come from their NFE: the typical relative time step between a sampler's consecutive
    NFE values (median) must exceed the timings' own spread (:func:`timing_spread`), or the timings
    cannot tell cells apart. Returns (trusted, one-line reason)."""
    steps = []
    for _, c in cells[cells["nfe_measured"] > 0].groupby("sampler", sort=False):
        t = c.sort_values("nfe_measured")["t"].tolist()
        steps += [(b - a) / a for a, b in zip(t, t[1:]) if a > 0]
    if spread is None:
        return True, "timing spread not recorded (one seed, one timed call): front not checked"
    if not steps:
        return True, f"timing spread {spread:.0%}"
    step = float(np.median(steps))
    if step > spread:
        return True, f"timing spread {spread:.0%} < typical time step between NFE values {step:.0%}"
    return False, (f"timing spread {spread:.0%} >= typical time step between NFE values {step:.0%}: "
                   "no front drawn")


def untrusted_timings(df: pd.DataFrame, metric: str) -> list[str]:
    """Panels (``model`` or ``model (data)``) of :func:`pareto` whose timings cannot carry a front."""
    if not {metric, "wall_clock_s"}.issubset(df.columns):
        return []
    df = normalise_results(df)
    ok = df[(df["status"] == "ok") & df[metric].notna() & df["wall_clock_s"].notna()]
    out = []
    for model, data, g in _panels(ok):
        if not timing_verdict(_cells(g, metric), timing_spread(g))[0]:
            out.append(model + (f" ({data})" if data else ""))
    return out


def _cells(g: pd.DataFrame, metric: str) -> pd.DataFrame:
    return g.groupby(["sampler", g["nfe_measured"].fillna(-1)], sort=False).agg(
        t=("wall_clock_s", "mean"), v=(metric, "mean"), t_min=("wall_clock_s", "min"),
        t_max=("wall_clock_s", "max")).reset_index()


def _threads(df: pd.DataFrame) -> str:
    if "torch_threads" not in df or not df["torch_threads"].notna().any():
        return "threads not recorded"
    vals = sorted({int(v) for v in df["torch_threads"].dropna()})
    return f"{'/'.join(map(str, vals))} torch thread" + ("s" if vals != [1] else "")


def _place_labels(ax, points: list[tuple[float, float, str]], fontsize: float = 6) -> int:
    """Annotate points without overlapping labels: try a few offsets per label, keep the first whose
    box overlaps no earlier label; labels that fit nowhere are left out. Returns the number left out."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    boxes, dropped = [], 0
    offsets = [(3, 3, "left", "bottom"), (3, -3, "left", "top"), (-3, 3, "right", "bottom"),
               (-3, -3, "right", "top"), (3, 9, "left", "bottom"), (3, -9, "left", "top")]
    for x, y, text in points:
        for dx, dy, ha, va in offsets:
            ann = ax.annotate(text, (x, y), fontsize=fontsize, xytext=(dx, dy), textcoords="offset points",
                              ha=ha, va=va)
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(b) for b in boxes):
                boxes.append(box)
                break
            ann.remove()
        else:
            dropped += 1
    return dropped


def pareto(df: pd.DataFrame, metric: str, path: Path, *, title: str = "") -> Path | None:
    """:func:`pareto_figure` saved as a PNG at ``path``, or None."""
    fig = pareto_figure(df, metric, title=title)
    return None if fig is None else _save(fig, path)


def pareto_figure(df: pd.DataFrame, metric: str, *, title: str = ""):
    """Per (model, data): metric vs wall_clock_s for every (sampler, NFE) cell (mean over seeds, a bar
    from the fastest to the slowest seed where there are several). The Pareto front (no other cell is
    both faster and better) is drawn as a step line with its cells labelled sampler@NFE only where
    the timings can carry it (:func:`timing_verdict`: their spread across repeats and seeds is smaller
    than the gaps between front cells); otherwise the panel says why no front is drawn. The x label
    records the torch thread count."""
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
    pal = palette(list(dict.fromkeys(ok["sampler"])))
    fig, axes = _grid(len(panels), plt, width=4.6, height=3.6)
    families: dict[str, str] = {}
    threads = _threads(ok)
    labels: list = []
    for ax, (model, data, g) in zip(axes, panels):
        cells = _cells(g, metric)
        for sampler in [n for n in pal if n in set(cells["sampler"])]:
            s = cells[cells["sampler"] == sampler]
            color, marker, family = pal[sampler]
            sns.scatterplot(x=list(s["t"]), y=list(s["v"]), ax=ax, s=20, color=color, marker=marker,
                            label=sampler, alpha=0.9, legend=False)
            spread = s[s["t_max"] > s["t_min"]]
            if len(spread):
                ax.hlines(spread["v"], spread["t_min"], spread["t_max"], color=color, lw=0.8, alpha=0.6)
            families[sampler] = family
        front = pareto_front(list(cells["t"]), list(cells["v"]))
        trusted, why = timing_verdict(cells, timing_spread(g))
        if trusted:
            ft, fv = cells["t"].iloc[front], cells["v"].iloc[front]
            ax.step(ft, fv, where="post", color="black", lw=1.2, alpha=0.8, label="Pareto front")
            ax.scatter(ft, fv, s=60, facecolors="none", edgecolors="black", lw=1.2)
        _scale(ax, "x", list(cells["t"]))
        _scale(ax, "y", list(cells["v"]))
        if metric == "w2":  # after the scale: the band's lower edge depends on it
            _noise_level(ax, g)
        if trusted:
            labels.append((ax, [(cells["t"].iloc[i], cells["v"].iloc[i], f"{cells['sampler'].iloc[i]}@"
                                 + ("ad" if cells["nfe_measured"].iloc[i] < 0 else f"{cells['nfe_measured'].iloc[i]:g}"))
                                for i in front]))
        ax.text(0.01, 0.01, why, transform=ax.transAxes, fontsize=5.5, color="0.25" if trusted else "firebrick",
                va="bottom", ha="left", wrap=True)
        ax.set_title(f"{model}" + (f" ({data})" if data else ""), fontsize=10)
        ax.set_xlabel(f"wall clock per batch (s; {threads})")
        ax.set_ylabel(metric)
        ax.grid(True, which="major", alpha=0.25)
    _finish(fig, axes, title or f"{metric} vs wall clock (Pareto front)", families)
    for ax, points in labels:  # after the layout, which moves the points the labels must not overlap
        _place_labels(ax, points)
    return fig


def sample_montage(tiles: dict[tuple[str, str], Path], path: Path, *, title: str = "",
                   extra: dict[str, Path] | None = None) -> Path | None:
    """One image of sample tiles, rows = samplers, columns = NFE (``tiles[(sampler, nfe_label)]``: a
    PNG path; missing pairs stay blank), each row and column labelled; ``extra`` (e.g. the reference
    solution and held-out data) as a last row. Returns the path, or None without tiles."""
    from PIL import Image as PILImage

    tiles = {k: Path(v) for k, v in tiles.items() if Path(v).is_file()}
    if not tiles:
        return None
    samplers = list(dict.fromkeys(s for s, _ in tiles))
    order = list(palette(samplers))
    samplers.sort(key=order.index)
    nfes = sorted(dict.fromkeys(n for _, n in tiles), key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0))
    extra = {k: Path(v) for k, v in (extra or {}).items() if Path(v).is_file()}
    rows = len(samplers) + (1 if extra else 0)
    cols = max(len(nfes), len(extra))
    plt = _plt()
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols + 1.4, 1.25 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for i, sampler in enumerate(samplers):
        axes[i][0].set_ylabel(sampler, rotation=0, ha="right", va="center", fontsize=7)
        for j, nfe in enumerate(nfes):
            if i == 0:
                axes[0][j].set_title(f"NFE {nfe}", fontsize=8)
            if (sampler, nfe) in tiles:
                img = PILImage.open(tiles[(sampler, nfe)])
                axes[i][j].imshow(img, cmap="gray" if img.mode == "L" else None, vmin=0, vmax=255,
                                  interpolation="nearest")
    for j, (label, p) in enumerate(extra.items()):
        img = PILImage.open(p)
        ax = axes[-1][j]
        ax.imshow(img, cmap="gray" if img.mode == "L" else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_xlabel(label, fontsize=7)
    if extra:
        axes[-1][0].set_ylabel("for comparison", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title or "samples (sampler x NFE, the same noise in every tile)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


__all__ = ["metric_vs_nfe", "metric_vs_nfe_figure", "palette", "pareto", "pareto_figure", "pareto_front", "pareto_metrics", "plain", "published_points",
           "sample_montage", "sampler_family", "timing_spread", "timing_verdict", "untrusted_timings", "vs_nfe_metrics"]
