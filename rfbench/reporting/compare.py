"""``rfbench compare``: measured rows of a suite next to published numbers, with protocol flags.

Join key: (family, variant, conditioning, dataset, sampler, metric) equal, and the NFE equal:
the measured ``nfe_measured`` (counted by rfbench) against the published ``nfe`` (as the paper
counts it). Adaptive solvers are joined regardless of NFE (their NFE is an outcome) and the NFE
difference is flagged. Every difference in protocol rfbench can detect is flagged: FID code,
reference set, sample count, resolution, NFE convention, time grid, guidance, seed policy,
hardware (latencies), and whether the published value was confirmed against the paper.

Measured rows with no counterpart and published rows of the measured models that were not
measured are listed with the reason, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..cache import atomic_write_text
from ..errors import InvalidInputError
from ..metrics.registry import LATENCY_METRIC, METRICS, published_keys
from .format import fmt
from .names import dataset_key, fid_impl_class, model_key, sampler_key
from .fd_inf_compare import EXTRAPOLATION_COLUMNS, extrapolation_columns, use_extrapolation
from .published import INCEPTION_METRICS, LATENCY_METRICS, NFE_COUNTING, load_published

REQUIRED_RESULT_COLUMNS = ("model", "sampler", "nfe", "nfe_measured", "status")
# columns that must hold numbers where they are filled (an empty cell is a missing value)
NUMERIC_RESULT_COLUMNS = ("nfe", "nfe_measured", "seed", "n_samples", "fid_n_samples",
                          *(n for n in METRICS if METRICS.get(n).kind != "published" and n != "nfe_measured"),
                          "fid_inf", "fid_inf_slope", "fid_inf_n")
RFBENCH_GRIDS = {"uniform", "karras", "logsnr", "time-quadratic"}


# -- measured side -------------------------------------------------------------------------------
def normalise_results(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns that pandas reads as all-NaN floats (``data`` of analytic models, ``grid`` of
    adaptive samplers) become strings, so grouping and labels behave."""
    df = df.copy()
    for col in ("data", "grid"):
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
    return df


def load_results(path: str | Path) -> tuple[pd.DataFrame, Path]:
    """A suite's results.csv (or its folder); errors name the file and what was expected."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.csv"
    if not p.is_file():
        raise InvalidInputError(f"results file {p} does not exist; expected the results.csv written by "
                                f"`rfbench run SUITE --out DIR` (or that folder)")
    try:
        df = pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - empty, binary or ragged files
        raise InvalidInputError(f"results file {p} is not a readable CSV ({type(exc).__name__}: {exc}); "
                                f"expected the results.csv written by `rfbench run`") from None
    missing = [c for c in REQUIRED_RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidInputError(f"results file {p} is not an rfbench results table: missing column(s) "
                                f"{', '.join(missing)} (expected at least {', '.join(REQUIRED_RESULT_COLUMNS)})")
    for col in (c for c in NUMERIC_RESULT_COLUMNS if c in df.columns):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = df[col].notna() & values.isna() & (df[col].astype(str).str.strip().str.lower() != "nan")
        if bad.any():
            i = int(bad.idxmax())
            raise InvalidInputError(f"results file {p}, row {i + 2}: column {col!r} holds {df[col][i]!r}; expected a "
                                    "number (or an empty cell)")
        df[col] = values
    nfe = df["nfe"].dropna()
    if ((nfe != nfe.round()) | (nfe < 1)).any():
        i = int(((df["nfe"] != df["nfe"].round()) | (df["nfe"] < 1)).idxmax())
        raise InvalidInputError(f"results file {p}, row {i + 2}: nfe {df['nfe'][i]!r} is not a positive integer")
    return normalise_results(df), p


def _is_adaptive(sampler: str, nfe) -> bool:
    try:
        from ..samplers import SAMPLERS

        if sampler in SAMPLERS:
            return bool(SAMPLERS.get(sampler).adaptive)
    except Exception:  # noqa: BLE001
        pass
    return nfe is None or (isinstance(nfe, float) and math.isnan(nfe)) or pd.isna(nfe)


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v) else str(v)


def _resolution(v) -> str:
    text = _text(v)
    if not text:
        return ""
    first = text.lower().split("x")[0].strip()
    return str(int(float(first))) if first.replace(".", "", 1).isdigit() else text


def measured_rows(results: pd.DataFrame, model_map: dict[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """One row per (model, data, sampler, grid, requested NFE, comparable metric), mean over seeds.

    Comparable metrics are the metrics with a ``published_key`` in the metric registry
    (:mod:`rfbench.metrics.registry`) plus the latency wall_clock_s / n_samples (the timed call samples
    the whole batch).
    """
    results = normalise_results(results)
    ok = results[results["status"] == "ok"] if "status" in results else results
    out = []
    keys = ["model", "data", "sampler", "grid", "nfe"]
    for (model, data, sampler, grid, nfe), g in ok.groupby(keys, dropna=False, sort=False):
        family, variant, how = model_key(str(model), model_map)
        first = g.iloc[0]
        nfe_m = g["nfe_measured"].dropna() if "nfe_measured" in g else pd.Series(dtype=float)
        nfe_measured = float(nfe_m.mean()) if len(nfe_m) else float("nan")
        base = {
            "model": model, "data": _text(data), "sampler": sampler, "grid": _text(grid),
            "nfe": pd.NA if pd.isna(nfe) else int(nfe), "nfe_measured": nfe_measured,
            "adaptive": _is_adaptive(str(sampler), nfe),
            "family": family, "variant": variant, "map_rule": how,
            "dataset": dataset_key(data), "conditioning": _text(first.get("conditioning")) or "unconditional",
            "resolution": _resolution(first.get("image_resolution")),
            "device_name": _text(first.get("device_name")) or _text(first.get("device")),
            "guidance": _text(first.get("guidance")) or "none",
        }
        metrics = {col: key for col, key in published_keys().items() if col in g.columns}
        for col, key in metrics.items():
            vals = g[col].dropna()
            if not len(vals):
                continue
            n_col = next((c for c in (f"{col}_n_samples", f"{col}_n", "fid_n_samples" if key in INCEPTION_METRICS else "",
                                      "n_samples") if c and c in g.columns and g[c].notna().any()), None)
            out.append({**base, "metric": key, "value": float(vals.mean()), "n_seeds": int(len(vals)),
                        "fid_impl": fid_impl_class(first.get("fid_impl")) if key in INCEPTION_METRICS else "n/a",
                        "reference_set": _text(first.get("fid_ref")) if key == "fid" else "n/a",
                        "n_samples": _text(int(g[n_col].dropna().iloc[0])) if n_col else "",
                        **extrapolation_columns(g, col)})  # FID_inf (reporting/fd_inf_compare.py)
        if "wall_clock_s" in g.columns and "n_samples" in g.columns:
            sel = g[g["wall_clock_s"].notna() & g["n_samples"].notna()]
            if len(sel):
                per_image = (sel["wall_clock_s"] / sel["n_samples"]).mean()
                out.append({**base, "metric": LATENCY_METRIC, "value": float(per_image), "n_seeds": int(len(sel)),
                            "fid_impl": "n/a", "reference_set": "n/a",
                            "n_samples": _text(int(sel["n_samples"].iloc[0]))})
    cols = ["model", "data", "sampler", "grid", "nfe", "nfe_measured", "adaptive", "family", "variant", "map_rule",
            "dataset", "conditioning", "resolution", "device_name", "guidance", "metric", "value", "n_seeds",
            "fid_impl", "reference_set", "n_samples"] + list(EXTRAPOLATION_COLUMNS)
    frame = pd.DataFrame(out, columns=cols)
    frame["nfe"] = frame["nfe"].astype("Int64")
    return frame


# -- protocol flags --------------------------------------------------------------------------------
def _nfe_text(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"


def protocol_flags(m: pd.Series | dict, p: pd.Series) -> list[tuple[str, str]]:
    """(code, explanation) for every protocol difference between a measured and a published row."""
    flags: list[tuple[str, str]] = []
    counting = p["nfe_counting"]
    if counting != "evaluations":
        flags.append(("nfe-counting", f"published NFE convention is '{counting}' ({NFE_COUNTING[counting]}); "
                                      f"rfbench counts network evaluations"))
    if m["adaptive"] and not (isinstance(p["nfe_num"], float) and math.isnan(p["nfe_num"])) \
            and round(m["nfe_measured"]) != int(p["nfe_num"]):
        flags.append(("nfe", f"adaptive solver: published NFE {int(p['nfe_num'])}, measured "
                             f"{_nfe_text(m['nfe_measured'])} (NFE depends on tolerance and batch size)"))
    if not pd.isna(m["nfe"]) and not math.isnan(m["nfe_measured"]) and int(m["nfe"]) != round(m["nfe_measured"]):
        flags.append(("nfe-rounded", f"requested NFE {int(m['nfe'])} was realised as {_nfe_text(m['nfe_measured'])}"))
    metric = p["metric"]
    if metric in INCEPTION_METRICS:
        pub, mea = p["fid_impl"], m["fid_impl"]
        if pub == "not-stated":
            flags.append(("fid-impl", f"published {metric} implementation not stated; measured with {mea}"))
        elif pub != mea:
            flags.append(("fid-impl", f"{metric} implementation differs: published {pub}, measured {mea} "
                                      f"(different Inception ports / resizing; values are not interchangeable)"))
    if metric == "fid":
        pub, mea = p["reference_set"], m["reference_set"] or "not-recorded"
        if pub == "not-stated":
            flags.append(("reference-set", f"published reference statistics not stated; measured against {mea}"))
        elif pub.lower() != mea.lower():
            flags.append(("reference-set", f"reference statistics differ: published {pub}, measured {mea}"))
    if p["n_samples"] != "n/a":
        pub, mea = p["n_samples"], m["n_samples"] or "not-recorded"
        if pub == "not-stated":
            flags.append(("n-samples", f"published sample count not stated; measured with {mea}"))
        elif pub != mea:
            flags.append(("n-samples", f"measured with {mea} samples vs published {pub}"
                                       + (" (FID is biased upward at smaller n)" if metric == "fid" else "")))
    if p["resolution"] != "not-stated":
        if not m["resolution"]:
            flags.append(("resolution", f"measured resolution not recorded; published {p['resolution']}px"))
        elif m["resolution"] != p["resolution"]:
            flags.append(("resolution", f"resolution differs: published {p['resolution']}px, measured {m['resolution']}px"))
    if p["grid"] in RFBENCH_GRIDS and m["grid"] and m["grid"] != p["grid"] and not m["adaptive"]:
        flags.append(("grid", f"time grid differs: published {p['grid']}, measured {m['grid']}"))
    if p["guidance"] != "none" and p["guidance"] != m["guidance"]:
        flags.append(("guidance", f"published guidance '{p['guidance']}', measured '{m['guidance']}'"))
    if p["seed_policy"] == "min-of-3":
        flags.append(("seed-policy", f"published value is the minimum of 3 evaluations; measured is the mean "
                                     f"over {m['n_seeds']} seed(s)"))
    if metric in LATENCY_METRICS:
        flags.append(("hardware", f"latency on different or unknown hardware: published {p['hardware']}, "
                                  f"measured {m['device_name'] or 'not recorded'}; only within-machine ratios mean much"))
        flags.append(("latency-definition", f"measured latency = wall clock of one batch of {m['n_samples']} / "
                                            f"{m['n_samples']} (sampling only)"))
    if p["verified"] != "yes":
        flags.append(("unverified", "published value not confirmed against the paper (secondary source)"))
    return flags


# -- the join --------------------------------------------------------------------------------------
@dataclass
class Comparison:
    matched: pd.DataFrame
    measured_only: pd.DataFrame
    published_only: pd.DataFrame
    mapping: pd.DataFrame
    results_path: str = ""
    published_path: str = ""
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """All rows in one frame with a ``match`` column (what comparison.csv holds)."""
        frames = [self.matched.assign(match="matched"), self.measured_only.assign(match="measured only"),
                  self.published_only.assign(match="published only")]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["match"])

    def to_markdown(self, *, title: str | None = "Comparison with published numbers") -> str:
        from .render import blocks_to_markdown

        return blocks_to_markdown(comparison_blocks(self, title=title))

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "comparison.csv", self.table().to_csv(index=False))
        atomic_write_text(out / "comparison.md", self.to_markdown())
        return {"csv": out / "comparison.csv", "md": out / "comparison.md"}


def _why_unmatched(m: pd.Series, pub: pd.DataFrame) -> str:
    same = pub[(pub["family"] == m["family"]) & (pub["variant"] == m["variant"])]
    key = f"{m['family']}/{m['variant']}"
    if m["family"] == "unmapped":
        return f"model {m['model']!r} is not mapped to a published family (use --map {m['model']}=FAMILY/VARIANT)"
    if same.empty:
        return f"no published row for {key}"
    on_ds = same[same["dataset"] == m["dataset"]]
    if on_ds.empty:
        return f"{key} is published on {', '.join(sorted(same['dataset'].unique()))} only"
    conds = sorted(on_ds["conditioning"].unique())
    on_ds = on_ds[on_ds["conditioning"] == m["conditioning"]]
    if on_ds.empty:
        return f"{key} on {m['dataset']} is published {', '.join(conds)} only (measured: {m['conditioning']})"
    s = on_ds[on_ds["sampler"] == sampler_key(m["sampler"])]
    if s.empty:
        return f"{key} on {m['dataset']}: published samplers are {', '.join(sorted(on_ds['sampler'].unique()))}"
    s = s[s["metric"] == m["metric"]]
    if s.empty:
        return f"{key} on {m['dataset']} with {m['sampler']}: no published {m['metric']}"
    nfes = sorted({int(v) for v in s["nfe_num"].dropna()})
    return f"published {m['metric']} for {m['sampler']} only at NFE {', '.join(map(str, nfes)) or 'not stated'}"


def compare(results: pd.DataFrame, published: pd.DataFrame | None = None, *,
            model_map: dict[str, tuple[str, str]] | None = None, all_published: bool = False) -> Comparison:
    """Join measured rows (a results.csv frame) with published rows (a validated published frame)."""
    pub = load_published() if published is None else published
    meas = measured_rows(results, model_map)
    matched, measured_only, used = [], [], set()
    for _, m in meas.iterrows():
        cand = pub[(pub["family"] == m["family"]) & (pub["variant"] == m["variant"])
                   & (pub["conditioning"] == m["conditioning"]) & (pub["dataset"] == m["dataset"])
                   & (pub["sampler"] == sampler_key(m["sampler"])) & (pub["metric"] == m["metric"])]
        if m["adaptive"]:
            cand = cand[cand["nfe_counting"] == "adaptive-mean"]
        else:
            cand = cand[(cand["nfe_counting"] != "adaptive-mean") & (cand["nfe_num"] == round(m["nfe_measured"]))] \
                if not math.isnan(m["nfe_measured"]) else cand.iloc[0:0]
        if cand.empty:
            measured_only.append({**m.to_dict(), "reason": _why_unmatched(m, pub)})
            continue
        for _, p in cand.iterrows():
            used.add(p["id"])
            flags = protocol_flags(m, p)
            pv, mv = p["value_num"], m["value"]
            mv = use_extrapolation(m, p, mv, flags)  # FID extrapolated to the published sample count
            matched.append({
                "model": m["model"], "data": m["data"], "sampler": m["sampler"], "grid": m["grid"],
                "nfe": m["nfe"], "nfe_measured": m["nfe_measured"], "nfe_published": p["nfe"],
                "metric": m["metric"], "unit": p["unit"], "published": pv, "measured": mv,
                "difference": mv - pv, "ratio": mv / pv if pv else float("nan"), "n_seeds": m["n_seeds"],
                "published_id": p["id"], "paper": p["paper"], "arxiv": p["arxiv"], "table": p["table"],
                "verified": p["verified"], "source": p["source"],
                "flags": ", ".join(c for c, _ in flags), "flag_details": " | ".join(f"{c}: {t}" for c, t in flags),
            })
    keys = {(m["family"], m["variant"], m["dataset"]) for _, m in meas.iterrows()}
    rest = pub[~pub["id"].isin(used)]
    if not all_published:
        rest = rest[[(f, v, d) in keys for f, v, d in zip(rest["family"], rest["variant"], rest["dataset"])]]
    published_only = rest[["id", "paper", "arxiv", "table", "family", "variant", "conditioning", "dataset", "sampler",
                           "nfe", "nfe_counting", "metric", "value", "unit", "verified"]].reset_index(drop=True)
    mapping = meas[["model", "family", "variant", "map_rule"]].drop_duplicates().reset_index(drop=True) if len(meas) \
        else pd.DataFrame(columns=["model", "family", "variant", "map_rule"])
    return Comparison(pd.DataFrame(matched), pd.DataFrame(measured_only), published_only, mapping)


def compare_files(results_path: str | Path, published_path: str | Path | None = None, *,
                  model_map: dict[str, tuple[str, str]] | None = None, all_published: bool = False) -> Comparison:
    results, rpath = load_results(results_path)
    pub = load_published(published_path)
    comp = compare(results, pub, model_map=model_map, all_published=all_published)
    comp.results_path = str(rpath)
    comp.published_path = str(published_path) if published_path else "results/published.csv"
    return comp


# -- presentation ---------------------------------------------------------------------------------
def _signed(v: float) -> str:
    return "—" if v is None or math.isnan(v) else f"{v:+.4g}"


def comparison_blocks(comp: Comparison, *, title: str | None = "Comparison with published numbers",
                      level: int = 1, max_measured_groups: int | None = None) -> list:
    """Report blocks (see :mod:`rfbench.reporting.render`) for a comparison."""
    from .render import Heading, Para, Table, Bullets

    b: list = []
    if title:
        b.append(Heading(level, title))
    src = []
    if comp.results_path:
        src.append(f"measured: `{comp.results_path}`")
    if comp.published_path:
        src.append(f"published: `{comp.published_path}`")
    b.append(Para((("; ".join(src) + ". ") if src else "")
                  + f"{len(comp.matched)} matched pair(s), {len(comp.measured_only)} measured row(s) without a "
                    f"published counterpart, {len(comp.published_only)} published row(s) of the measured models "
                    "not measured. Difference = measured - published; ratio = measured / published. Join key: "
                    "(family, variant, conditioning, dataset, sampler, NFE, metric); see `rfbench/reporting/names.py`."))
    b.append(Heading(level + 1, "Matched"))
    if len(comp.matched):
        rows, details = [], []
        for i, r in enumerate(comp.matched.itertuples(index=False), 1):
            nfe = f"{fmt(r.nfe_measured)} / {r.nfe_published or '—'}"
            rows.append([str(i), r.model, r.data, r.sampler, nfe, r.metric, fmt(r.published), fmt(r.measured),
                         _signed(r.difference), fmt(r.ratio, digits=3), f"{r.paper.split(' (')[0]}, {r.table} (arXiv {r.arxiv})",
                         r.verified, r.flags or "none"])
            if r.flag_details:
                details.append(f"[{i}] " + "; ".join(r.flag_details.split(" | ")))
        b.append(Table(["#", "model", "data", "sampler", "NFE meas/pub", "metric", "published", "measured",
                        "difference", "ratio", "source", "verified", "flags"], rows))
        if details:
            b.append(Para("Protocol flags:"))
            b.append(Bullets(details))
    else:
        b.append(Para("No measured row has a published counterpart."))
    b.append(Heading(level + 1, "Measured, no published counterpart"))
    if len(comp.measured_only):
        mo = comp.measured_only
        groups = []
        for (model, data, sampler, metric, reason), g in mo.groupby(["model", "data", "sampler", "metric", "reason"],
                                                                    sort=False, dropna=False):
            nfes = ", ".join("adaptive" if pd.isna(v) else str(int(v)) for v in g["nfe"])
            groups.append([model, data or "—", sampler, metric, nfes, reason])
        shown = groups if max_measured_groups is None else groups[:max_measured_groups]
        b.append(Table(["model", "data", "sampler", "metric", "NFE", "why no counterpart"], shown))
        if len(shown) < len(groups):
            b.append(Para(f"... and {len(groups) - len(shown)} more group(s) (all in comparison.csv)."))
    else:
        b.append(Para("None."))
    b.append(Heading(level + 1, "Published for the measured models, not measured"))
    if len(comp.published_only):
        rows = [[r.id, r.variant, r.dataset, r.conditioning, r.sampler, r.nfe or "not stated", r.metric,
                 r.value + (f" {r.unit}" if r.unit else ""), r.verified] for r in comp.published_only.itertuples()]
        b.append(Table(["published id", "variant", "dataset", "conditioning", "sampler", "NFE", "metric", "value",
                        "verified"], rows))
    else:
        b.append(Para("None."))
    if len(comp.mapping):
        b.append(Heading(level + 1, "Name mapping used"))
        b.append(Table(["rfbench model", "family", "variant", "rule"],
                       [[r.model, r.family, r.variant, r.map_rule] for r in comp.mapping.itertuples()]))
    return b
