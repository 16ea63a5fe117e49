"""CI step for asv: record the current commit's benchmarks, compare with the previous recorded commit.

    python scripts/asv_ci.py                    # record HEAD (machine "ci"), compare, print the verdict
    python scripts/asv_ci.py --no-run           # compare only (HEAD's results must exist)
    python scripts/asv_ci.py --baseline abc1234 --bench quality
    python scripts/asv_ci.py --record-baseline  # record every benchmark for HEAD (clean tree), to commit

Verdict (exit code 1 on failure):
- ``track_`` quality benchmarks (solver error, NFE gap, order deficit; lower is better, deterministic) fail
  when the value grows beyond its tolerance: the relative threshold of ``regressions_thresholds`` in
  asv.conf.json (the largest of the regular expressions matching the benchmark's name, as asv takes it),
  plus 1e-12 absolute.
- ``track_ratio_`` benchmarks (speed as a ratio of CPU times measured in the same process: a sampler call
  over bare network calls, a suite over a fixed reference workload) fail beyond ``RATIO_FAIL`` x the
  baseline's ratio: the machine's speed and load cancel in a ratio, so this gates the code's speed.
- ``peakmem_`` fails beyond ``PEAKMEM_FAIL`` x (memory does not depend on the machine's load).
- ``time_`` (wall clock) is reported only (``slower x1.7``): it follows the machine's load.
- Every value the baseline has a number for must have one in head: a benchmark (or one parameter
  combination) not recorded, failed (asv: null) or skipped (asv: NaN) in head fails CI as "gone", listed
  by name. A benchmark that fails in head fails CI whatever the baseline says. Benchmarks the baseline
  lacks (added since) are reported as "new".
The baseline is the most recent other commit recorded for the machine in ``results/asv/<machine>/``
(committed to the repository, so a fresh clone has history), or ``--baseline``. A benchmark removed or
renamed on purpose: record a new baseline (``--record-baseline``) and commit it with the change.
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
# Fail levels, from run-to-run spread measured on a loaded 2-core machine (docs/regression-tracking.md):
# track_ratio_ values moved by up to xMEASURED between runs idle and beside 2 busy processes; a sampler
# doing 3x the work reads x~3.
RATIO_FAIL = 2.0
PEAKMEM_FAIL = 2.0
ABS_TOL = 1e-12


@dataclass
class Row:
    name: str
    base: float | None
    head: float | None
    verdict: str  # same | improved | regressed | slower | faster | new | n/a | failed | gone (...) | FAIL-slower
    failed: bool


def load_conf(path: Path = ROOT / "asv.conf.json") -> dict:
    import asv.util

    return asv.util.load_json(str(path), js_comments=True)


def kind(name: str) -> str:
    """quality | ratio | time | peakmem (from the method's prefix)."""
    method = name.split("(")[0].split(".")[-1]
    if method.startswith("track_ratio_"):
        return "ratio"
    if method.startswith("track_"):
        return "quality"
    return "peakmem" if method.startswith(("peakmem_", "mem_")) else "time"


def threshold(name: str, thresholds: dict[str, float], default: float = 0.05) -> float:
    """The relative threshold asv applies to ``name``: the largest of the asv.conf.json regular
    expressions matching it (re.match on the full name), else asv's default 5 %."""
    found = [float(v) for pattern, v in thresholds.items() if re.match(pattern, name)]
    return max(found) if found else default


def load_values(results_dir: Path, machine: str, commit: str) -> dict[str, float | None]:
    """{"module.Class.method(param, ...)": value} of one recorded commit (all environments merged).

    asv's conventions are kept: None where the benchmark failed, NaN where it was skipped (not
    applicable: setup raised NotImplementedError; or not selected); a benchmark not run is absent.
    """
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
    return None if v is None else float(v)


def _has(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


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
        if _has(b) and not _has(h):
            why = "not recorded" if name not in head else "failed" if h is None else "skipped"
            rows.append(Row(name, b, h, f"gone ({why})", True))
        elif name in head and h is None:  # it failed; the baseline had no number either
            rows.append(Row(name, b, h, "failed", True))
        elif not _has(h):  # not applicable in head, nor measured in the baseline
            rows.append(Row(name, b, h, "n/a", False))
        elif not _has(b):
            rows.append(Row(name, b, h, "new", False))
        else:
            rows.append(_compare(name, b, h, thresholds))
    return rows


def _compare(name: str, b: float, h: float, thresholds: dict[str, float]) -> Row:
    what = kind(name)
    rel = threshold(name, thresholds)
    if what == "quality":
        tol = rel * abs(b) + ABS_TOL
        verdict = "regressed" if h - b > tol else "improved" if b - h > tol else "same"
        return Row(name, b, h, verdict, verdict == "regressed")
    ratio = h / b if b > 0 else math.inf if h > 0 else 1.0
    fail_at = {"ratio": RATIO_FAIL, "peakmem": PEAKMEM_FAIL}.get(what)
    if fail_at is not None and ratio > fail_at:
        return Row(name, b, h, f"FAIL-slower x{ratio:.2f}" if what == "ratio" else f"FAIL-larger x{ratio:.2f}", True)
    if ratio > 1 + rel:
        return Row(name, b, h, f"{'larger' if what == 'peakmem' else 'slower'} x{ratio:.2f}", False)
    if ratio < 1 / (1 + rel):
        return Row(name, b, h, f"{'smaller' if what == 'peakmem' else 'faster'} x{ratio:.2f}", False)
    return Row(name, b, h, "same", False)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def print_table(rows: list[Row], base: str, head: str, *, show_all: bool = False, out=None) -> None:
    """Every regression, slow-down, change and failure; unchanged rows counted (all with ``show_all``);
    then the values that are gone, by name."""
    out = out or sys.stdout
    gone = [r for r in rows if r.verdict.startswith("gone")]
    shown = [r for r in rows if (show_all or r.verdict not in ("same", "n/a")) and r not in gone]
    width = max([len(r.name) for r in rows] + [9])
    print(f"asv comparison: baseline {base[:8]} -> head {head[:8]}", file=out)
    print(f"{'benchmark':<{width}}  {'baseline':>12}  {'head':>12}  verdict", file=out)
    for r in shown:
        print(f"{r.name:<{width}}  {_fmt(r.base):>12}  {_fmt(r.head):>12}  {r.verdict}"
              + ("   <-- FAIL" if r.failed else ""), file=out)
    if gone:
        print(f"gone: {len(gone)} values the baseline has are missing in head (a benchmark not run, failed or "
              "skipped; removed or renamed on purpose: record a new baseline, --record-baseline):", file=out)
        for r in gone:
            print(f"  {r.name}  {r.verdict}", file=out)
    counts: dict[str, int] = {}
    for r in rows:
        key = r.verdict.split(" ")[0]
        counts[key] = counts.get(key, 0) + 1
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), file=out)
    failed = [r for r in rows if r.failed]
    print(f"verdict: {'FAIL' if failed else 'PASS'} ({len(failed)} failing of {len(rows)} compared; fail: quality "
          f"regressions, gone or failed values, track_ratio_ beyond {RATIO_FAIL:g}x, peak memory beyond "
          f"{PEAKMEM_FAIL:g}x; wall-clock times are reported only)", file=out)


def run_asv(commit: str, machine: str, bench: list[str], conf: Path) -> None:
    """``asv run`` in this interpreter (``environment_type: existing`` benchmarks the interpreter asv runs
    in, so ``python scripts/asv_ci.py`` from a virtualenv benchmarks that virtualenv's rfbench)."""
    asv = [sys.executable, "-m", "asv"]
    subprocess.run([*asv, "machine", "--yes", "--machine", machine, "--config", str(conf)], check=True,
                   stdout=subprocess.DEVNULL)
    cmd = [*asv, "run", "--config", str(conf), "-E", "existing", "--set-commit-hash", commit,
           "--machine", machine, "--show-stderr"]
    for b in bench:
        cmd += ["--bench", b]
    # asv exits non-zero when a benchmark fails; the comparison reports it as "failed" or "gone"
    subprocess.run(cmd, check=False)


def record_baseline(conf_path: Path, results_dir: Path, machine: str) -> int:
    """Record every benchmark for HEAD (clean tree: the results must be HEAD's code) and say what to commit."""
    root = conf_path.parent
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, check=True,
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        print("asv_ci: --record-baseline records HEAD: commit or stash these changes first:\n" + dirty)
        return 2
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()
    run_asv(head, machine, [], conf_path)
    values = load_values(results_dir, machine, head)
    failed = sorted(n for n, v in values.items() if v is None)
    if failed:
        print(f"asv_ci: {len(failed)} benchmarks failed, not a baseline to commit:\n  " + "\n  ".join(failed))
        return 1
    rel = (results_dir / machine).relative_to(root) if (results_dir / machine).is_relative_to(root) else results_dir
    print(f"asv_ci: recorded {head[:8]} on machine {machine!r} ({sum(map(_has, values.values()))} values); "
          f"commit it as the baseline:\n  git add {rel} && git commit -m 'asv: baseline results of {head[:8]}'")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "asv.conf.json"))
    ap.add_argument("--machine", default="ci")
    ap.add_argument("--commit", default=None, help="commit to record / compare (default HEAD)")
    ap.add_argument("--baseline", default=None, help="commit to compare with (default: latest other recorded)")
    ap.add_argument("--bench", action="append", default=[],
                    help="asv --bench regular expression (repeatable); the comparison is restricted to it")
    ap.add_argument("--no-run", action="store_true", help="compare recorded results only")
    ap.add_argument("--all", action="store_true", help="print unchanged rows too")
    ap.add_argument("--record-baseline", action="store_true",
                    help="record every benchmark for HEAD (clean tree) as the next baseline; no comparison")
    args = ap.parse_args(argv)

    conf_path = Path(args.config).resolve()
    conf = load_conf(conf_path)
    results_dir = (conf_path.parent / conf.get("results_dir", "results")).resolve()
    if args.record_baseline:
        if args.bench or args.no_run or args.commit or args.baseline:
            ap.error("--record-baseline records every benchmark for HEAD: no --bench, --no-run, --commit, --baseline")
        return record_baseline(conf_path, results_dir, args.machine)
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
                  "with (record one: --record-baseline)")
            return 0
        base = older[-1]
    base_values = load_values(results_dir, args.machine, base)
    head_values = load_values(results_dir, args.machine, head_full)
    if args.bench:  # a subset on purpose: compare only it
        keep = [n for n in set(base_values) | set(head_values) if any(re.search(b, n) for b in args.bench)]
        base_values = {n: base_values[n] for n in keep if n in base_values}
        head_values = {n: head_values[n] for n in keep if n in head_values}
        print(f"asv_ci: comparing only benchmarks matching --bench {' '.join(args.bench)} ({len(keep)} values)")
    rows = compare_values(base_values, head_values, conf.get("regressions_thresholds", {}))
    print_table(rows, base, head_full, show_all=args.all)
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
