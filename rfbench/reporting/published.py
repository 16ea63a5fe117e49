"""results/published.csv: published numbers with provenance and protocol, one metric per row.

Schema (every column is text in the file; empty only where stated):

=================== =========================================================================
id                  unique slug
paper, arxiv, table paper name, arXiv id (``2209.03003``), table/figure/abstract the number is in
family, variant     join keys for the model (see :mod:`rfbench.reporting.names`)
model_description   the paper's own words for the model
conditioning        unconditional | class-conditional | text-conditional
dataset, resolution join key (``cifar10``) and pixels per side (or ``not-stated``)
sampler             join key: an rfbench sampler name where one exists, else a slug / not-stated
sampler_description the paper's words and settings
grid                uniform | karras | logsnr | time-quadratic | trailing | bellman | adaptive | not-stated
nfe                 NFE as the paper counts it (integer); empty only if nfe_counting is not-stated/n/a
nfe_counting        how that NFE counts (NFE_COUNTING below)
guidance            none | cfg ... | not-stated
metric, value, unit metric key (``fid``), its value as a number, and unit ("", %, s/img, 0-1, x100)
fid_impl            FID code (FID_IMPLS) for Inception metrics; n/a otherwise
reference_set       reference statistics id for FID (``cifar10-train``); n/a otherwise
n_samples           generated samples behind the metric, or not-stated / n/a
seed_policy         single-run | min-of-3 | not-stated
hardware            GPU for timing metrics (or not-stated); n/a for other metrics
source              citation: where the number was read (primary or secondary), precisely
verified            yes: confirmed against a primary source; no: secondary source only
verified_against    which primary source (abstract, README, model card, ...); "none (...)" if not
notes               caveats (may be empty)
=================== =========================================================================
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import InvalidInputError

COLUMNS = [
    "id", "paper", "arxiv", "table", "family", "variant", "model_description", "conditioning", "dataset",
    "dataset_description", "resolution", "sampler", "sampler_description", "grid", "nfe", "nfe_counting",
    "guidance", "metric", "metric_description", "value", "unit", "fid_impl", "reference_set", "n_samples",
    "seed_policy", "hardware", "source", "verified", "verified_against", "notes",
]
OPTIONAL = {"notes", "nfe", "unit"}  # nfe may be empty only when the paper does not state it; unit "" = plain number

CONDITIONING = {"unconditional", "class-conditional", "text-conditional"}
GRIDS = {"uniform", "karras", "logsnr", "time-quadratic", "trailing", "bellman", "adaptive", "not-stated"}
NFE_COUNTING = {
    "evaluations": "network evaluations per sample, as rfbench counts them",
    "evaluations-cfg-batched": "network evaluations with a guided step (cond + uncond batched) counted once",
    "adaptive-mean": "an adaptive solver's own count averaged over batches (e.g. scipy nfev incl. start-up)",
    "steps": "sampler steps, not evaluations (evaluations per step not documented)",
    "not-stated": "the paper does not state the NFE",
    "n/a": "the metric has no NFE (e.g. a speed-up ratio)",
}
FID_IMPLS = {
    "tf-gan": "TF-GAN / TF-Hub Inception (score_sde pipeline)",
    "edm-fid": "EDM's fid.py (NVIDIA's PyTorch port of the TF Inception 2015-12-05 graph)",
    "pytorch-fid": "pytorch-fid package",
    "clean-fid": "clean-fid (PIL bicubic resize)",
    "adm-evaluator": "OpenAI ADM evaluator (TF Inception, reference batch npz)",
    "torch-fidelity": "torch-fidelity (inception-v3-compat)",
    "not-stated": "not stated in the sources checked",
    "n/a": "not an Inception metric",
}
INCEPTION_METRICS = {"fid", "is", "precision", "recall"}
LATENCY_METRICS = {"latency_s_per_image"}
TIMING_METRICS = LATENCY_METRICS | {"sampling_acceleration_min", "sampling_acceleration_max"}  # need hardware
UNITS = {"", "%", "s/img", "0-1", "x100"}
SEED_POLICIES = {"single-run", "min-of-3", "not-stated"}

_ID = re.compile(r"^[a-z0-9][a-z0-9.+\-]*$")
_ARXIV = re.compile(r"^\d{4}\.\d{4,5}$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")


def default_published_path() -> Path:
    """results/published.csv of the source tree rfbench runs from."""
    return Path(__file__).resolve().parents[2] / "results" / "published.csv"


def _is_int(text: str) -> bool:
    return text.isdigit() and int(text) >= 1


def validate_published(df: pd.DataFrame) -> list[str]:
    """Every problem with a published table, as 'row <id>: <problem>' lines (empty list: valid)."""
    problems: list[str] = []
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]
    seen: set[str] = set()
    for i, r in df.iterrows():
        rid = r["id"] or f"#{i + 2}"
        bad = problems.append

        def fail(msg: str) -> None:
            bad(f"row {rid}: {msg}")

        for col in COLUMNS:
            if col not in OPTIONAL and not str(r[col]).strip():
                fail(f"{col} is empty")
        if not _ID.match(r["id"]):
            fail("id must be a lower-case slug")
        if r["id"] in seen:
            fail("duplicate id")
        seen.add(r["id"])
        if not _ARXIV.match(r["arxiv"]):
            fail(f"arxiv {r['arxiv']!r} is not an arXiv id like 2209.03003")
        if r["conditioning"] not in CONDITIONING:
            fail(f"conditioning {r['conditioning']!r} not in {sorted(CONDITIONING)}")
        if r["grid"] not in GRIDS:
            fail(f"grid {r['grid']!r} not in {sorted(GRIDS)}")
        if r["nfe_counting"] not in NFE_COUNTING:
            fail(f"nfe_counting {r['nfe_counting']!r} not in {sorted(NFE_COUNTING)}")
        if r["nfe"]:
            if not _is_int(r["nfe"]):
                fail(f"nfe {r['nfe']!r} is not a positive integer")
        elif r["nfe_counting"] not in ("not-stated", "n/a"):
            fail("nfe is empty but nfe_counting says it is stated")
        if not (r["resolution"] == "not-stated" or _is_int(r["resolution"])):
            fail(f"resolution {r['resolution']!r} is neither an integer nor not-stated")
        if not _METRIC.match(r["metric"]):
            fail(f"metric {r['metric']!r} is not a metric key")
        try:
            value = float(r["value"])
            if value != value:
                raise ValueError
        except ValueError:
            fail(f"value {r['value']!r} is not a number")
        if r["unit"] not in UNITS:
            fail(f"unit {r['unit']!r} not in {sorted(UNITS)}")
        if r["fid_impl"] not in FID_IMPLS:
            fail(f"fid_impl {r['fid_impl']!r} not in {sorted(FID_IMPLS)}")
        if not (r["n_samples"] in ("not-stated", "n/a") or _is_int(r["n_samples"])):
            fail(f"n_samples {r['n_samples']!r} is neither an integer nor not-stated / n/a")
        if r["seed_policy"] not in SEED_POLICIES:
            fail(f"seed_policy {r['seed_policy']!r} not in {sorted(SEED_POLICIES)}")
        # protocol present where the metric needs one
        if r["metric"] in INCEPTION_METRICS:
            if r["fid_impl"] == "n/a":
                fail(f"{r['metric']} needs fid_impl (use not-stated if unknown)")
            if r["n_samples"] == "n/a":
                fail(f"{r['metric']} needs n_samples (use not-stated if unknown)")
            if r["metric"] == "fid" and r["reference_set"] == "n/a":
                fail("fid needs reference_set (use not-stated if unknown)")
        if r["metric"] in TIMING_METRICS:
            if r["hardware"] == "n/a":
                fail("timing metrics need hardware (use not-stated if unknown)")
        elif r["hardware"] != "n/a":
            fail("hardware is only for timing metrics (use n/a)")
        if r["metric"] in LATENCY_METRICS and r["unit"] != "s/img":
            fail("latency must be in s/img")
        # honest verification
        if r["verified"] not in ("yes", "no"):
            fail(f"verified {r['verified']!r} must be yes or no")
        elif r["verified"] == "no" and not r["verified_against"].startswith("none"):
            fail("verified=no rows must say verified_against 'none (...)'")
        elif r["verified"] == "yes" and r["verified_against"].startswith("none"):
            fail("verified=yes rows must name the primary source in verified_against")
        if "arxiv" not in r["source"].lower() and "readme" not in r["source"].lower() \
                and "model card" not in r["source"].lower():
            fail("source must cite the arXiv paper, a README or a model card")
    return problems


def load_published(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a published table; errors name the file and the first problems."""
    path = Path(path) if path is not None else default_published_path()
    if not path.is_file():
        raise InvalidInputError(f"published table {path} does not exist; expected a CSV with columns "
                                f"{', '.join(COLUMNS[:6])}, ... (results/published.csv)")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise InvalidInputError(f"published table {path} is not a readable CSV ({type(exc).__name__}: {exc})") from None
    problems = validate_published(df)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InvalidInputError(f"published table {path} is malformed: {'; '.join(problems[:3])}{more}")
    df = df.copy()
    df["value_num"] = df["value"].astype(float)
    df["nfe_num"] = pd.to_numeric(df["nfe"], errors="coerce")
    return df
