"""Are two results.csv files the same result rows? Column by column, timing and provenance excluded.

    python scripts/compare_results.py BEFORE/results.csv AFTER/results.csv
    python scripts/compare_results.py A.csv B.csv --rtol 1e-12          # tolerate round-off in numbers
    python scripts/compare_results.py A.csv B.csv --exclude notes --include calib_cached

Rows are matched on (suite, model, data, sampler, nfe, seed). Every other column is compared
exactly (numbers bit for bit unless ``--rtol``/``--atol``; NaN equals NaN; a missing value equals a
missing value), except the columns that record when, where, how fast or from which cache a row was
made (``EXCLUDED``): they differ between two runs of the same code. In ``reason`` and ``notes`` the
source locations of exceptions (``(at sweep.py:123)``) are dropped first, since moving code moves
them. Prints every difference (row key, column, both values), rows present on one side only,
columns present on one side only, and a note when the column order differs. Exit status 0 when
the rows are identical, 1 when they differ, 2 on bad input.

This is the check of the architecture step (docs/architecture-plan.md, "Behaviour check").
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

KEY = ["suite", "model", "data", "sampler", "nfe", "seed"]
# timing (seconds of this run), provenance (code and environment), cache state (cold vs warm)
EXCLUDED = {
    "wall_clock_s", "timing", "cell_seconds", "calib_s", "compile_s", "redress_s", "fid_seconds",
    "pairs_seconds", "load_seconds", "seconds",
    "git_commit", "code_hash", "rfbench_version", "torch_version", "python_version", "device_name",
    "calib_cached", "redress_cached", "cache_hit", "pairs_cache_hit",
}
LOCATION = re.compile(r"\s*\(at [\w./\\-]+\.py:\d+\)")


def _load(path: str) -> pd.DataFrame:
    p = Path(path)
    if p.is_dir():
        p = p / "results.csv"
    if not p.is_file():
        raise SystemExit(f"compare_results: error: {p} does not exist (expected a results.csv or its folder)")
    df = pd.read_csv(p, keep_default_na=True)
    missing = [c for c in KEY if c not in df.columns]
    if missing:
        raise SystemExit(f"compare_results: error: {p} lacks the key column(s) {', '.join(missing)}")
    return df


def _key_part(v) -> str:
    if _missing(v):
        return ""
    if isinstance(v, float) and v.is_integer():  # nfe reads as float when a column has empty cells
        return str(int(v))
    return str(v)


def _key(row: pd.Series) -> tuple:
    return tuple(_key_part(row[c]) for c in KEY)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _normalise_text(col: str, v):
    if col in ("reason", "notes") and isinstance(v, str):
        return LOCATION.sub("", v)
    return v


def same(a, b, rtol: float = 0.0, atol: float = 0.0) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        fa, fb = float(a), float(b)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return fa == fb or abs(fa - fb) <= atol + rtol * abs(fb)
    return str(a) == str(b)


def compare(a: pd.DataFrame, b: pd.DataFrame, *, exclude: set[str], rtol: float = 0.0,
            atol: float = 0.0) -> list[str]:
    """Human-readable differences (empty when the rows are identical)."""
    out: list[str] = []
    cols_a = [c for c in a.columns if c not in exclude]
    cols_b = [c for c in b.columns if c not in exclude]
    only_a, only_b = [c for c in cols_a if c not in cols_b], [c for c in cols_b if c not in cols_a]
    if only_a:
        out.append(f"columns only in A: {', '.join(only_a)}")
    if only_b:
        out.append(f"columns only in B: {', '.join(only_b)}")
    rows_a = {_key(r): r for _, r in a.iterrows()}
    rows_b = {_key(r): r for _, r in b.iterrows()}
    for side, rows, other in (("A", rows_a, rows_b), ("B", rows_b, rows_a)):
        for k in rows:
            if k not in other:
                out.append(f"row only in {side}: {dict(zip(KEY, k))}")
    for dup_side, df in (("A", a), ("B", b)):
        n_dup = int(df.duplicated(KEY).sum())
        if n_dup:
            out.append(f"{n_dup} duplicated key(s) in {dup_side}")
    common = [c for c in cols_a if c in cols_b and c not in KEY]
    for k, ra in rows_a.items():
        if k not in rows_b:
            continue
        rb = rows_b[k]
        label = "/".join(x for x in k if x)
        for c in common:
            va, vb = _normalise_text(c, ra[c]), _normalise_text(c, rb[c])
            if not same(va, vb, rtol, atol):
                out.append(f"{label}: {c}: A={va!r} B={vb!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="results.csv (or its folder) before")
    ap.add_argument("b", help="results.csv (or its folder) after")
    ap.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for numbers (default: exact)")
    ap.add_argument("--atol", type=float, default=0.0, help="absolute tolerance for numbers (default: exact)")
    ap.add_argument("--exclude", action="append", default=[], help="another column to ignore (repeatable)")
    ap.add_argument("--include", action="append", default=[], help="compare a column excluded by default")
    args = ap.parse_args(argv)
    a, b = _load(args.a), _load(args.b)
    exclude = (EXCLUDED | set(args.exclude)) - set(args.include)
    diffs = compare(a, b, exclude=exclude, rtol=args.rtol, atol=args.atol)
    order_a = [c for c in a.columns if c not in exclude and c in set(b.columns)]
    order_b = [c for c in b.columns if c not in exclude and c in set(a.columns)]
    if order_a != order_b:
        print("note: the column order differs (not a difference in the rows)")
    for d in diffs:
        print(d)
    n_cols = len([c for c in a.columns if c not in exclude])
    if diffs:
        print(f"DIFFERENT: {len(diffs)} difference(s); {len(a)} vs {len(b)} rows")
        return 1
    print(f"IDENTICAL: {len(a)} rows, {n_cols} compared columns (excluded: "
          f"{', '.join(sorted(c for c in exclude if c in a.columns)) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
