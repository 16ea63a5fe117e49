"""Print the "Bad input" table of docs/bad-input.md: every case of tests/cli/test_bad_input.py run through the CLI.

    python scripts/bad_input_table.py [--width 150]

Each case runs in-process (``rfbench.cli.main``) against the files the test writes into a temporary
folder; the table shows the command (temporary paths shortened to file names), the message rfbench
actually printed (shortened with "...") and the exit code. A last row checks that a rerun with a bad
option leaves a finished sweep's cell records untouched. Takes a few seconds; nothing is trained.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _load_cases():
    spec = importlib.util.spec_from_file_location("rfbench_bad_input_cases", ROOT / "tests" / "cli" / "test_bad_input.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 4].rstrip() + " ..."


def _records(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "cells").glob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=150, help="longest message shown before it is cut with ...")
    args = ap.parse_args(argv)
    cases = _load_cases()
    with tempfile.TemporaryDirectory(prefix="rfbench-bad-input-") as tmp:
        root = Path(tmp) / "in"
        inputs = cases.make_inputs(root)
        rows = []
        for case in cases.CASES:
            if case.needs_no_cuda and torch.cuda.is_available():
                continue
            code, _, err = cases.run_case(case, inputs)
            lines = [ln for ln in err.splitlines() if ln.strip()]
            message = (lines[0] if len(lines) == 1 else " / ".join(lines)).replace(str(root) + "/", "")
            message = message.removeprefix("rfbench: error: ")
            rows.append((cases.shown_input(case, inputs), message, code))
        # nothing already computed is lost: finished cells, then a rerun with a bad option
        out = Path(tmp) / "run"
        base = ["run", "toy2d", "--models", "analytic-gmm-rf", "--samplers", "euler", "--nfe", "2,4",
                "--n-samples", "64", "--out", str(out), "--no-progress"]
        assert cases.run_case(cases.C(base, ""), {})[0] == 0
        before = _records(out)
        code, _, err = cases.run_case(cases.C(base + ["--nfe", "0"], ""), {})
        kept = _records(out) == before and len(before) == 2
        rows.append(("rfbench run toy2d ... --nfe 0 (rerun into a folder holding 2 finished cells)",
                     err.strip().removeprefix("rfbench: error: ")
                     + (" (the 2 cell records are untouched)" if kept else " (CELL RECORDS CHANGED)"), code))
    print("| input tried | what rfbench says | exit code |")
    print("|---|---|---|")
    for shown, message, code in rows:
        print(f"| `{_cell(shown)}` | {_cell(_shorten(message, args.width))} | {code} |")
    print(f"\n{len(rows)} bad inputs; every one exits with code 2 and one line on stderr."
          if all(r[2] == 2 for r in rows) else f"\n{len(rows)} bad inputs; NOT ALL EXIT WITH CODE 2.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
