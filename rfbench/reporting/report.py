"""``rfbench report DIR``: one Markdown and one self-contained HTML report for a suite's output.

Sections, in a reader's order: the headline (the best sampler at each NFE per model, with its
interval and the samplers indistinguishable from it), figures (metric vs NFE with published points;
quality vs wall clock with the Pareto front), the sampler x NFE result tables (also written as
LaTeX, ``report/tables.tex``), convergence order (analytic models), samples, error bars and paired
comparisons, the comparison with published numbers (one line when nothing matched), protocol and
environment. Works for any suite: it reads only results.csv (and run.json when present).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
from pathlib import Path

import pandas as pd

from .._version import __version__
from ..cache import atomic_write_text
from .compare import compare, comparison_blocks, load_results
from .convergence import FLOOR_SLOPE, ORDER_TOL, convergence_table
from .figures import metric_vs_nfe, pareto, pareto_metrics, untrusted_timings, vs_nfe_metrics
from .paired import report_blocks
from .published import load_published
from .render import Bullets, Columns, Heading, Image, Para, Table, blocks_to_html, blocks_to_markdown
from .tables import ENV_COLUMNS, headline_blocks, latex_tables, results_blocks

# Image-metric protocol columns (written by the image metrics next to each value): text columns with
# these prefixes, plus counts and accuracies; numeric values such as fd_unverified are not protocol.
PROTOCOL_PREFIXES = ("fid_", "fd_", "lpips_", "prc_", "image_", "resize_", "uint8_", "digits_", "precision_",
                     "recall_")
PROTOCOL_NUMERIC_SUFFIXES = ("_n", "_n_samples", "_ref_n", "_acc")


def _uniq(df: pd.DataFrame, col: str) -> str:
    if col not in df:
        return "not recorded"
    vals = [str(v) for v in df[col].dropna().unique() if str(v) != ""]
    return ", ".join(vals) if vals else "not recorded"


def _summary(df: pd.DataFrame, meta: dict) -> str:
    counts = df["status"].value_counts().to_dict() if "status" in df else {}
    parts = [f"{len(df)} cells"] + [f"{v} {k}" for k, v in counts.items()]
    s = meta.get("summary") or {}
    if s:
        parts.append(f"run: {s.get('computed', '?')} computed, {s.get('reused', '?')} reused from cell records")
    return "; ".join(parts)


def _environment_blocks(df: pd.DataFrame) -> list:
    rows = [[c, _uniq(df, c)] for c in ENV_COLUMNS if c in df]
    rows.append(["report generated", f"{_dt.datetime.now().isoformat(timespec='seconds')} by rfbench {__version__}, "
                                     f"Python {platform.python_version()} on {platform.platform()}"])
    return [Heading(2, "Environment"),
            Para("As recorded in each result row (several values mean the rows came from different runs)."),
            Table(["field", "value"], rows)]


def _sampler_facts(name: str) -> tuple[str, str, str]:
    try:
        from ..samplers import SAMPLERS

        if name in SAMPLERS:
            s = SAMPLERS.get(name)
            return ("-" if s.order is None else str(s.order)), s.nfe_per_step, s.paper
    except Exception:  # noqa: BLE001
        pass
    return "?", "?", "not registered in this rfbench"


def _protocol_blocks(df: pd.DataFrame, suite_name: str, meta: dict) -> list:
    """``meta``: run.json, where the runner records the suite's description and timing settings."""
    b: list = [Heading(2, "Protocol")]
    facts = []
    if meta.get("description"):
        facts.append(f"Suite `{suite_name}`: {meta['description']}.")
    models = df.groupby(["model", "data"], sort=False).size().index
    facts.append("Models: " + ", ".join(f"`{m}`" + (f" on {d}" if d else "") for m, d in models) + ".")
    nfes = sorted({int(v) for v in df["nfe"].dropna()}) if "nfe" in df else []
    facts.append(f"Requested NFE: {', '.join(map(str, nfes)) or 'none'} (adaptive samplers choose their own); "
                 f"every NFE in the tables is counted by a forward hook, not claimed.")
    if "seed" in df:
        facts.append(f"Noise seeds: {', '.join(map(str, sorted(df['seed'].dropna().astype(int).unique())))}; "
                     f"samples per cell: {_uniq(df, 'n_samples')}; dtype: {_uniq(df, 'dtype')}.")
    if "ref_rtol" in df and df["ref_rtol"].notna().any():
        nfe = df["ref_nfe"].dropna() if "ref_nfe" in df else pd.Series(dtype=float)
        span = "" if not len(nfe) else (f" ({int(nfe.min())} evaluations)" if nfe.min() == nfe.max()
                                         else f" ({int(nfe.min())}-{int(nfe.max())} evaluations)")
        dtype = (_uniq(df, "ref_dtype") + " ") if "ref_dtype" in df and df["ref_dtype"].notna().any() else ""
        facts.append(f"Reference solution: {dtype}dopri5 with rtol = atol = {_uniq(df, 'ref_rtol')} from the same "
                     f"noise" + span
                     + "; ref_rmse is the per-sample RMSE to it, averaged.")
    if "wall_clock_s" in df and df["wall_clock_s"].notna().any():
        if "timing" in df and df["timing"].notna().any():
            how = "; ".join(f"{t} ({n} cells)" for t, n in df["timing"].value_counts().items())
        else:
            repeats = meta.get("timing_repeats")
            how = (f"the median of {repeats} timed calls after a warm-up" if isinstance(repeats, int)
                   else "the median of repeated timed calls after a warm-up")
        facts.append(f"wall_clock_s: time to sample the whole batch once: {how}; synchronised on the device "
                     "(CUDA events on a GPU).")
    b.append(Bullets(facts))
    rows = [[s, *_sampler_facts(s), _uniq(df[df["sampler"] == s], "grid")] for s in dict.fromkeys(df["sampler"])]
    b.append(Table(["sampler", "order (claimed)", "NFE per step", "reference", "grid"], rows))
    cols = [c for c in df.columns if c.startswith(PROTOCOL_PREFIXES) and df[c].notna().any()
            and (df[c].dtype == object or str(df[c].dtype).startswith("str") or c.endswith(PROTOCOL_NUMERIC_SUFFIXES))]
    proto = [[c, _uniq(df, c)] for c in cols]
    if proto:
        b += [Para("Image-metric protocol recorded with the rows:"), Table(["field", "value"], proto)]
    return b


def _convergence_blocks(df: pd.DataFrame) -> list:
    conv = convergence_table(df)
    b: list = [Heading(2, "Convergence order (analytic models)")]
    if conv.empty:
        return b + [Para("No analytic model with ref_rmse at two or more NFE values in this run: nothing to fit.")]
    b.append(Para("Slope of -log(ref_rmse) against log(counted NFE), least squares over the three largest NFE "
                  "values (`rfbench.metrics.convergence.fit_order`), on models whose velocity is exact, next to "
                  "the order to expect: the registry's (the paper's claim), lowered where the plan takes a "
                  "lower-order step the NFE does not remove (a first-order step at an infinite log-SNR end caps "
                  f"exponential integrators at 2; DPM-Solver-fast at NFE not 2 mod 3). 'meets': within {ORDER_TOL} "
                  "(or local slopes moving monotonically onto the theory, the last within it); 'error floor': the "
                  f"last local slope is below {FLOOR_SLOPE}, the error no longer falls with NFE; 'inconclusive': the "
                  "local slopes over the fitted points disagree by more than 0.3 otherwise. On a logSNR grid over "
                  "an infinite-lambda end the fit is against steps per unit log-SNR. The note says which rule "
                  "applied (docs/quick-suite.md)."))
    rows = []
    for r in conv.itertuples(index=False):
        theory = "-" if r.theory is None or (isinstance(r.theory, float) and math.isnan(r.theory)) else str(int(r.theory))
        measured = "—" if math.isnan(r.measured) else f"{r.measured:.2f}"
        rows.append([r.model, r.sampler, r.grid, theory, measured, r.nfe_range, r.local_slopes,
                     f"{r.min_error:.2e}", r.verdict, r.note])
    b.append(Table(["model", "sampler", "grid", "theory", "measured", "NFE used", "last local slopes",
                    "min ref_rmse", "verdict", "note"], rows))
    return b


MAX_SAMPLE_IMAGES = 24


def _sample_blocks(df: pd.DataFrame, run_dir: Path, out_dir: Path) -> list:
    """Sample grids written by artifact hooks: PNG paths in columns ending in ``_png`` (relative to
    the run folder) and the PNGs under ``run_dir/samples``; at most MAX_SAMPLE_IMAGES."""
    import os

    paths: list[Path] = []
    for col in [c for c in df.columns if c.endswith("_png")]:
        paths += [run_dir / str(v) for v in df[col].dropna().unique() if str(v).strip()]
    if (run_dir / "samples").is_dir():
        paths += sorted((run_dir / "samples").glob("*.png"))
    paths = [p for p in dict.fromkeys(paths) if p.is_file()]
    if not paths:
        return []
    b: list = [Heading(2, "Samples"), Para(f"Sample grids written by the run ({min(len(paths), MAX_SAMPLE_IMAGES)} of "
                                           f"{len(paths)} shown).")]
    for p in paths[:MAX_SAMPLE_IMAGES]:
        b.append(Image(os.path.relpath(p, out_dir), p.stem))
    return b


def _timing_sanity(df: pd.DataFrame) -> str:
    """A warning when wall clock falls as NFE rises within a (model, sampler): noisy timings."""
    if not {"wall_clock_s", "nfe_measured"}.issubset(df.columns):
        return ""
    ok = df[(df["status"] == "ok") & df["wall_clock_s"].notna() & df["nfe"].notna()]
    bad, total = 0, 0
    for _, g in ok.groupby(["model", "data", "sampler"], sort=False):
        t = g.groupby("nfe_measured")["wall_clock_s"].median().sort_index().values
        for a, b in zip(t, t[1:]):
            total += 1
            bad += b < 0.8 * a
    if not bad:
        return ""
    return (f"Timing check: in {bad} of {total} NFE steps the wall clock fell by more than 20% as NFE rose, "
            "so these timings are noisy (a loaded machine?); compare times only within a quiet run")


def _comparison_section(comp) -> list:
    """The comparison with published numbers; one line when nothing matched (the unmatched rows and
    their reasons stay in comparison.csv / comparison.md)."""
    title = "Comparison with published numbers"
    if len(comp.matched):
        return comparison_blocks(comp, title=title, level=2, max_measured_groups=40)
    reasons = comp.measured_only["reason"].value_counts() if len(comp.measured_only) else pd.Series(dtype=int)
    why = "; ".join(f"{r}: {n}" for r, n in reasons.head(3).items())
    why = f" ({why}{'; ...' if len(reasons) > 3 else ''})" if why else ""
    return [Heading(2, title),
            Para(f"No measured value has a published counterpart: {len(comp.measured_only)} measured row(s) "
                 f"unmatched{why}, {len(comp.published_only)} published row(s) of these models not measured; "
                 "details in comparison.md and comparison.csv.")]


def build_report(run_dir: str | Path, *, published: str | Path | None = None, out: str | Path | None = None,
                 model_map: dict[str, tuple[str, str]] | None = None, cells: list[dict] | None = None) -> dict:
    """Write ``report.md``, ``report.html`` and figures under ``report/`` for the run in ``run_dir``.

    ``out`` (default: ``run_dir``) receives the files. ``cells``: the run's cell records with their
    bootstrap replicates (:func:`rfbench.runner.intervals.load_cells`), for the paired comparisons.
    Returns their paths and the comparison.
    """
    df, results_path = load_results(run_dir)
    run_dir = results_path.parent
    out_dir = Path(out) if out is not None else run_dir
    fig_dir = out_dir / "report"
    fig_dir.mkdir(parents=True, exist_ok=True)
    meta = {}
    if (run_dir / "run.json").is_file():
        try:
            meta = json.loads((run_dir / "run.json").read_text())
        except (OSError, ValueError):
            meta = {}
    suite_name = meta.get("suite") or (_uniq(df, "suite") if "suite" in df else run_dir.name)
    pub = load_published(published)

    blocks: list = [Heading(1, f"rfbench report: suite `{suite_name}`"),
                    Para(f"Source: `{results_path}`. {_summary(df, meta)}.")]
    # a reader's order: the answer, the pictures, the numbers, then how they were made
    blocks += headline_blocks(df, cells, level=2)

    figures = []
    fig_blocks: list = [Heading(2, "Figures")]
    for metric in vs_nfe_metrics(df):
        res = metric_vs_nfe(df, metric, fig_dir / f"{metric}_vs_nfe.png", title=f"{suite_name}: {metric} vs NFE",
                                 published=pub, model_map=model_map)
        if res:
            path, n_pub = res
            figures.append(path)
            cap = f"{metric} against counted NFE (log axis), one panel per model, mean over seeds"
            if f"{metric}_lo" in df:
                cap += ("; shaded (error bars in panels with more than six samplers): 95% interval (bootstrap; t "
                        "across seeds when several)")
            cap += (f"; {n_pub} published value(s) overlaid as stars" if n_pub else
                    "; no published value exists for these models, datasets and metric")
            fig_blocks.append(Image(f"report/{path.name}", cap))
    timing_note = _timing_sanity(df)
    for metric in pareto_metrics(df):
        path = pareto(df, metric, fig_dir / f"pareto_{metric}.png",
                           title=f"{suite_name}: {metric} vs wall clock, Pareto front per model")
        if path:
            figures.append(path)
            cap = (f"{metric} against wall clock per batch; circled cells form the Pareto front (nothing else is "
                   "both faster and better)")
            if metric == "w2":
                cap += "; grey band: the held-out noise level (w2_floor: W2 between two held-out data sets)"
            if flagged := untrusted_timings(df, metric):  # timing spread >= the time step between NFE values
                cap += f"; no front drawn for {', '.join(flagged)}: the timings' spread exceeds their differences"
            fig_blocks.append(Image(f"report/{path.name}", cap + (f". {timing_note}" if timing_note else "")))
    if len(fig_blocks) == 1:
        fig_blocks.append(Para("No plottable metric in this run."))
    first = next((i for i, b in enumerate(fig_blocks) if isinstance(b, Image)), None)
    if first is not None and isinstance(blocks[-1], Table):
        # the first screen of report.html: the headline table beside the first figure (issue 14), whatever
        # the table's length; Markdown shows the figure under the table
        blocks[-1] = Columns([[blocks[-1]], [fig_blocks.pop(first)]])
        fig_blocks.insert(1, Para("The first figure stands beside the headline table above."))
    blocks += fig_blocks

    tex = fig_dir / "tables.tex"
    atomic_write_text(tex, latex_tables(df, cells, source=str(results_path)))
    blocks += [Heading(2, "Results"),
               Para(f"The same tables as LaTeX (booktabs): `{tex.relative_to(out_dir)}`.")] + results_blocks(df, level=3)
    blocks += _convergence_blocks(df)
    blocks += _sample_blocks(df, run_dir, out_dir)
    blocks += report_blocks(df, cells)  # intervals, across seeds, paired rankings (reporting/paired.py)
    comp = compare(df, pub, model_map=model_map)
    comp.results_path, comp.published_path = str(results_path), str(published or "results/published.csv")
    blocks += _comparison_section(comp)
    blocks += _protocol_blocks(df, suite_name, meta)
    blocks += _environment_blocks(df)

    md = blocks_to_markdown(blocks)
    html = blocks_to_html(blocks, base_dir=out_dir, title=f"rfbench report: {suite_name}")
    atomic_write_text(out_dir / "report.md", md)
    atomic_write_text(out_dir / "report.html", html)
    comp.write(out_dir)
    return {"md": out_dir / "report.md", "html": out_dir / "report.html", "tex": tex, "figures": figures,
            "comparison": comp}
