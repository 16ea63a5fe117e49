"""Many workers, one store: the loop every ``rfbench run`` process runs over a suite's cells.

Any number of ``rfbench run SUITE ... --out DIR`` processes started with the same arguments (on one
machine or on many sharing DIR) divide the cells between them:

* a cell with a fresh record (same configuration and code hash) is never computed again;
* otherwise the worker claims it (:mod:`rfbench.runner.claims`), checks the record once more (another
  worker may have finished it meanwhile), computes it, saves the record and drops the claim; the
  record names the worker (host, pid) and, where it took over a dead worker's claim, that claim
  and why;
* a cell claimed by a live worker is left to it.

**Who writes the table.** A worker without ``--shard`` handles all cells: when only cells claimed by
others are left it polls (every ``poll`` seconds) until their records appear or their claims go
stale (then it takes them over), so every such worker ends, like a single ``rfbench run``, with the
complete results.csv, results.md and plots, written from the store (atomically; the same table
from each). A worker with ``--shard I/N`` handles only its partition (cells ``I, I+N, I+2N, ...`` of
the suite's cell order) and exits when it is done, as schedulers expect of array tasks; it writes
the outputs only if every cell of the suite then has a record, so the last shard to finish writes
them (each shard checks after saving its own last record). ``rfbench report DIR`` rebuilds the
table from the records whenever it is older than the newest record (:mod:`rfbench.runner.rebuild`).

Under ``torchrun`` the ranks of one process group are one worker: rank 0 decides (records, claims)
and broadcasts each step; all ranks compute the cell (:mod:`rfbench.runner.distributed`).

With ``--force`` a record counts as fresh only if it was written after this worker started (so
several forced workers still compute each cell once). A cell that cannot be fingerprinted (its
record is never reused across runs) likewise counts as done when a record was written after this
worker started.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


from .. import progress as _progress
from ..cache import atomic_write_text
from ..errors import InvalidInputError, ResourceError
from . import distributed
from .claims import DEFAULT_TIMEOUT_S, Claims, worker_info
from .environment import code_hash

POLL_S = 2.0
SHARD_ENV = (("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"), ("JOB_COMPLETION_INDEX", None),
             ("RFBENCH_SHARD_INDEX", "RFBENCH_SHARD_COUNT"))
MANIFEST = "manifest.json"


def parse_shard(text: str | None, env: dict | None = None) -> tuple[int, int] | None:
    """``I/N`` (0 <= I < N), or ``auto`` / ``auto/N``: I from $SLURM_ARRAY_TASK_ID (minus
    $SLURM_ARRAY_TASK_MIN), $JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or $RFBENCH_SHARD_INDEX;
    N from the text, $SLURM_ARRAY_TASK_COUNT or $RFBENCH_SHARD_COUNT."""
    if text is None:
        return None
    env = os.environ if env is None else env
    head, sep, tail = text.strip().partition("/")
    want = "--shard expects I/N (0 <= I < N), auto or auto/N"
    try:
        count = int(tail) if sep else None
    except ValueError:
        raise InvalidInputError(f"{want}, got {text!r}") from None
    if head == "auto":
        for index_var, count_var in SHARD_ENV:
            if env.get(index_var, "").strip():
                try:
                    index = int(env[index_var])
                    if index_var == "SLURM_ARRAY_TASK_ID":
                        index -= int(env.get("SLURM_ARRAY_TASK_MIN", "0") or 0)
                    if count is None and count_var and env.get(count_var, "").strip():
                        count = int(env[count_var])
                except ValueError:
                    raise InvalidInputError(f"--shard auto: ${index_var}={env[index_var]!r} (or its count) is not "
                                            "an integer") from None
                if count is None:
                    raise InvalidInputError(f"--shard auto: ${index_var} is set but the number of shards is not; "
                                            "pass --shard auto/N")
                break
        else:
            raise InvalidInputError("--shard auto: none of $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX, "
                                    "$RFBENCH_SHARD_INDEX is set; pass --shard I/N")
    else:
        try:
            index = int(head)
        except ValueError:
            raise InvalidInputError(f"{want}, got {text!r}") from None
        if count is None:
            raise InvalidInputError(f"{want}, got {text!r}")
    if count < 1 or not 0 <= index < count:
        raise InvalidInputError(f"--shard {text!r} gives shard {index} of {count}; expected 0 <= I < N")
    return index, count


def select(cells: list, shard: tuple[int, int] | None) -> list:
    """The cells of partition ``shard`` (strided, so each shard gets a mix of models and NFEs)."""
    return list(cells) if shard is None else list(cells)[shard[0]::shard[1]]


class _NoStore:
    """What ranks other than 0 hand to execute_cell: they compute, rank 0 records."""

    worker_meta = None

    def fresh(self, *args):
        return None

    def save(self, *args):
        pass


def _record_row(store, cell, h, code, since: float, force: bool) -> dict | None:
    """The cell's row if its record is fresh (see the module docstring for --force and cells that
    cannot be fingerprinted), else None."""
    rec = store.load(cell.key)
    if rec is None:
        return None
    try:
        recent = store.path(cell.key).stat().st_mtime >= since
    except FileNotFoundError:
        return None
    same = h is not None and rec.get("config_hash") == h and rec.get("code_hash") == code
    if force:
        return rec["row"] if recent and (same or (h is None and rec.get("config_hash") is None)) else None
    if same or (recent and h is None and rec.get("config_hash") is None):
        return rec["row"]
    return None


def run_cells(ctx, store, cells: list, execute_cell, cell_hash, *, force: bool = False,
              shard: tuple[int, int] | None = None, claim_timeout: float | None = None, poll: float = POLL_S,
              wait: bool = True, progress: bool = True) -> tuple[list[dict], dict]:
    """Run this worker's share of ``cells``; returns (rows, summary). ``summary["write"]`` says
    whether this worker should write the outputs (rank 0, every cell of the suite recorded)."""
    since = time.time()
    lead = distributed.rank() == 0
    claims = Claims(store.dir, timeout=claim_timeout or DEFAULT_TIMEOUT_S) if lead else None
    code = code_hash()
    mine = select(cells, shard)
    pending = list(range(len(mine)))
    held: dict[int, object] = {}
    rows: dict[int, dict] = {}
    counts = {"computed": 0, "reused": 0, "failed": 0, "taken_over": 0}
    waited = 0.0
    if lead:
        _write_manifest(store.dir.parent, ctx.suite, cells)

    def hash_of(cell):
        try:
            return cell_hash(cell, ctx)[0]
        except (ResourceError, KeyboardInterrupt):
            raise
        except Exception:  # noqa: BLE001 - building the model failed: execute_cell records why
            return None

    def next_action():
        for i in list(pending):
            cell = mine[i]
            h = hash_of(cell)
            row = _record_row(store, cell, h, code, since, force)
            if row is None:
                claim = claims.acquire(cell.key, store.path(cell.key), shard=None if shard is None else list(shard))
                if claim is None:
                    continue  # a live worker computes it
                row = _record_row(store, cell, h, code, since, force)  # finished while we claimed?
                if row is None:
                    held[i] = claim
                    pending.remove(i)
                    return "compute", i, None
                claims.release(claim)
            pending.remove(i)
            return "reuse", i, row
        if not pending:
            return "end", None, None
        return ("wait" if wait and shard is None else "leave"), None, None

    # tqdm on a terminal, a line every few seconds when piped (a log file, a cluster job)
    bar = _progress.bar(total=len(mine), desc=f"{ctx.suite.name}" + (f" shard {shard[0]}/{shard[1]}" if shard else ""),
                        unit="cell", disable=not (progress and lead))
    quiet = _progress.quiet(not progress)  # no announcements either (BOSS, FlowTurbo, training)
    quiet.__enter__()
    try:
        while True:
            kind, i, row = distributed.broadcast(next_action() if lead else None)
            if kind in ("end", "leave"):
                break
            if kind == "wait":
                if lead:
                    bar.set_postfix_str(f"waiting for {len(pending)} cell(s) claimed by other workers", refresh=True)
                    time.sleep(poll)
                    waited += poll
                continue
            cell = mine[i]
            bar.set_postfix_str(cell.id[-48:], refresh=False)
            if kind == "compute":
                claim = held.get(i)
                if lead:
                    meta = {**worker_info(), "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
                            "ranks": distributed.world()}
                    if claim.took_over:
                        meta["took_over"] = claim.took_over
                        counts["taken_over"] += 1
                    store.worker_meta = meta
                try:
                    row, _ = execute_cell(ctx, store if lead else _NoStore(), cell, force=True)
                finally:
                    if lead:
                        store.worker_meta = None
                        claims.release(held.pop(i))
                counts["computed"] += 1
            else:
                counts["reused"] += 1
            counts["failed"] += row.get("status") == "failed"
            rows[i] = row
            bar.update(1)
    finally:
        bar.close()
        quiet.__exit__(None, None, None)
        if claims is not None:
            claims.close()
    result = [rows[i] for i in sorted(rows)]
    complete = False
    if lead:
        if not pending and (shard is None or shard[1] == 1):
            complete = True
        else:  # every cell of the suite recorded? (the last shard to finish writes the outputs)
            all_rows = [_record_row(store, c, hash_of(c), code, 0.0 if not force else since, force) for c in cells]
            if all(r is not None for r in all_rows):
                result, complete = all_rows, True
    complete = distributed.broadcast(complete)
    summary = {"cells": len(cells), **counts, "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
               "mine": len(mine), "left": len(pending), "waited_s": round(waited, 1), "complete": complete,
               "write": complete and lead}
    return result, summary


def _write_manifest(out_dir: Path, suite, cells) -> None:
    """Which cells make the suite's table, for ``rfbench report`` on a store filled by many workers."""
    body = {"suite": suite.name, "metrics": list(suite.metrics), "cells": [c.key for c in cells]}
    path = Path(out_dir) / MANIFEST
    try:
        if json.loads(path.read_text()) == body:
            return
    except (OSError, ValueError):
        pass
    atomic_write_text(path, json.dumps(body, indent=1))
