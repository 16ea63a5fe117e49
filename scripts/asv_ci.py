"""CI step for asv: record the current commit's benchmarks, compare with the previous recorded commit.

    python scripts/asv_ci.py                  # record HEAD (machine "ci"), compare, print the verdict
    python scripts/asv_ci.py --no-run         # compare only (HEAD's results must exist)
    python scripts/asv_ci.py --baseline abc1234 --bench quality

Verdict (exit code 1 on failure):
- ``track_`` benchmarks (quality: solver error, NFE gap, order deficit; lower is better, deterministic)
  fail when the value grows beyond its tolerance: the relative threshold of ``regressions_thresholds``
  in asv.conf.json (matched by regular expression on the benchmark name), plus 1e-12 absolute. A
  tracked value that had a number and now has none (the benchmark broke) fails too.
- ``time_`` / ``peakmem_`` benchmarks are reported (slower beyond the threshold), and fail only beyond 2x:
  CI machines are noisy.
The baseline is the most recent other commit recorded for the machine in ``results/asv/<machine>/``
(committed to the repository, so a fresh clone has history), or ``--baseline``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_FAIL_RATIO = 2.0
ABS_TOL = 1e-12


@dataclass
class Row:
    name: str
    base: float | None
    head: float | None
    verdict: str  # same | improved | regressed | slower | faster | broken | new | gone | FAIL-slower
    failed: bool


def load_conf(path: Path = ROOT / "asv.conf.json") -> dict:
    import asv.util

    return asv.util.load_json(str(path), js_comments=True)


def threshold(name: str, thresholds: dict[str, float], default: float) -> float:
    """The relative threshold of the first regular expression in asv.conf.json matching ``name``."""
    short = name.split(".")[-1]
    for pattern, value in thresholds.items():
        if re.match(pattern, short) or re.match(pattern, name):
            return float(value)
    return default


def load_values(results_dir: Path, machine: str, commit: str) -> dict[str, float | None]:
    """{"module.Class.method(param, ...)": value} of one recorded commit (all environments merged)."""
    from asv import results as asv_results

    values: dict[str, float | None] = {}
    found = False
    for res in asv_results.iter_results_for_machine_and_hash(str(results_dir), machine, commit):
        found = True
        for key in res.get_all_result_keys():
            params = res.get_result_params(key)
            raw = res.get_result_value(key, params)
            if not params:
                values[key] = _num(raw[0] if isinstance(raw, list) else raw)
                continue
            for combo, value in zip(itertools.product(*params), raw):
                values[f"{key}({', '.join(combo)})"] = _num(value)
    if not found:
        raise SystemExit(f"asv_ci: no results for commit {commit[:8]} on machine {machine!r} in {results_dir}")
    return values


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def recorded_commits(results_dir: Path, machine: str) -> list[tuple[int, str]]:
    """(date, commit hash) of every commit recorded for ``machine``, oldest first."""
    from asv import results as asv_results

    out = {}
    for res in asv_results.iter_results_for_machine(str(results_dir), machine):
        out[res.commit_hash] = max(out.get(res.commit_hash, 0), res.date or 0)
    return sorted((d, h) for h, d in out.items())


def compare_values(base: dict[str, float | None], head: dict[str, float | None],
                   thresholds: dict[str, float]) -> list[Row]:
    rows = []
    for name in sorted(set(base) | set(head)):
        b, h = base.get(name), head.get(name)
        kind = name.split(".")[-1].split("(")[0]
        quality = kind.startswith("track_")
        rel = threshold(name, thresholds, 0.001 if quality else 0.5)
        if name not in base:
            rows.append(Row(name, None, h, "new", False))
        elif name not in head:
            rows.append(Row(name, b, None, "gone", False))  # a benchmark removed or renamed on purpose
        elif b is None:
            rows.append(Row(name, b, h, "new" if h is not None else "same", False))
        elif h is None:
            rows.append(Row(name, b, h, "broken", quality))
        elif quality:
            tol = rel * abs(b) + ABS_TOL
            verdict = "regressed" if h - b > tol else "improved" if b - h > tol else "same"
            rows.append(Row(name, b, h, verdict, verdict == "regressed"))
        else:
            ratio = h / b if b > 0 else math.inf
            if ratio > TIME_FAIL_RATIO:
                rows.append(Row(name, b, h, f"FAIL-slower x{ratio:.2f}", True))
            elif ratio > 1 + rel:
                rows.append(Row(name, b, h, f"slower x{ratio:.2f}", False))
            elif ratio < 1 / (1 + rel):
                rows.append(Row(name, b, h, f"faster x{ratio:.2f}", False))
            else:
                rows.append(Row(name, b, h, "same", False))
    return rows


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def print_table(rows: list[Row], base: str, head: str, *, show_all: bool = False, out=sys.stdout) -> None:
    """Every regression, slow-down, change and failure; unchanged rows counted (all with ``show_all``)."""
    width = max([len(r.name) for r in rows] + [9])
    print(f"asv comparison: baseline {base[:8]} -> head {head[:8]}", file=out)
    print(f"{'benchmark':<{width}}  {'baseline':>12}  {'head':>12}  verdict", file=out)
    shown = [r for r in rows if show_all or r.verdict != "same"]
    for r in shown:
        print(f"{r.name:<{width}}  {_fmt(r.base):>12}  {_fmt(r.head):>12}  {r.verdict}"
              + ("   <-- FAIL" if r.failed else ""), file=out)
    counts: dict[str, int] = {}
    for r in rows:
        key = r.verdict.split(" ")[0]
        counts[key] = counts.get(key, 0) + 1
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), file=out)
    failed = [r for r in rows if r.failed]
    print(f"verdict: {'FAIL' if failed else 'PASS'} ({len(failed)} failing of {len(rows)} compared; quality "
          f"regressions fail, timings fail beyond {TIME_FAIL_RATIO:g}x)", file=out)


def run_asv(commit: str, machine: str, bench: list[str], conf: Path) -> None:
    subprocess.run(["asv", "machine", "--yes", "--machine", machine, "--config", str(conf)], check=True,
                   stdout=subprocess.DEVNULL)
    cmd = ["asv", "run", "--config", str(conf), "-E", "existing", "--set-commit-hash", commit,
           "--machine", machine, "--show-stderr"]
    for b in bench:
        cmd += ["--bench", b]
    # asv exits non-zero when a benchmark fails; the comparison reports it as "broken"
    subprocess.run(cmd, check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "asv.conf.json"))
    ap.add_argument("--machine", default="ci")
    ap.add_argument("--commit", default=None, help="commit to record / compare (default HEAD)")
    ap.add_argument("--baseline", default=None, help="commit to compare with (default: latest other recorded)")
    ap.add_argument("--bench", action="append", default=[], help="asv --bench regular expression (repeatable)")
    ap.add_argument("--no-run", action="store_true", help="compare recorded results only")
    ap.add_argument("--all", action="store_true", help="print unchanged rows too")
    args = ap.parse_args(argv)

    conf_path = Path(args.config).resolve()
    conf = load_conf(conf_path)
    results_dir = (conf_path.parent / conf.get("results_dir", "results")).resolve()
    head = args.commit or subprocess.run(["git", "rev-parse", "HEAD"], cwd=conf_path.parent, check=True,
                                         capture_output=True, text=True).stdout.strip()
    if not args.no_run:
        run_asv(head, args.machine, args.bench, conf_path)
    hashes = [h for _, h in recorded_commits(results_dir, args.machine)]
    head_full = next((h for h in hashes if h.startswith(head)), head)
    if args.baseline:
        base = next((h for h in hashes if h.startswith(args.baseline)), None)
        if base is None:
            print(f"asv_ci: no results recorded for baseline {args.baseline} on machine {args.machine!r}")
            return 1
    else:
        older = [h for h in hashes if h != head_full]
        if not older:
            print(f"asv_ci: recorded {head_full[:8]}; no earlier results for machine {args.machine!r} to compare "
                  "with (commit results/asv to start the history)")
            return 0
        base = older[-1]
    rows = compare_values(load_values(results_dir, args.machine, base),
                          load_values(results_dir, args.machine, head_full),
                          conf.get("regressions_thresholds", {}))
    print_table(rows, base, head_full, show_all=args.all)
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
