"""``rfbench report DIR`` on a store filled by many workers: the table rebuilt from the records."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InvalidInputError
from .workers import MANIFEST


def refresh_results(out_dir: str | Path) -> str | None:
    """Rewrite results.csv/.md and plots of a run folder from its cell records when a record is newer
    than results.csv (or it is missing), e.g. after shards that exited early; returns a one-line
    message, or None when nothing was rewritten."""
    from .output import write_outputs
    from .records import CellStore

    out = Path(out_dir)
    manifest = out / MANIFEST
    if not (out / "cells").is_dir() or not manifest.is_file():
        return None
    try:
        body = json.loads(manifest.read_text())
        keys, name, metrics = list(body["cells"]), str(body["suite"]), tuple(body.get("metrics", ()))
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidInputError(f"{manifest} is not an rfbench run manifest (expected JSON with 'suite' and "
                                "'cells'); delete it to report results.csv as it is") from None
    store = CellStore(out)
    stamps = [p.stat().st_mtime for k in keys if (p := store.path(k)).is_file()]
    results = out / "results.csv"
    if not stamps or (results.is_file() and results.stat().st_mtime >= max(stamps)):
        return None
    rows = store.rows(keys)
    summary = {"cells": len(keys), "with records": len(rows)}
    write_outputs(rows, out, name, summary, metrics=metrics)
    missing = len(keys) - len(rows)
    return (f"rebuilt {results} from {len(rows)} cell records"
            + (f"; {missing} of {len(keys)} cells have no record yet (workers still running or failed)" if missing else ""))
