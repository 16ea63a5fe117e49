"""Cell records: one JSON file per finished cell, written atomically as soon as the cell ends.

A record carries the cell's configuration hash (everything its numbers depend on, the model's and the
sampler's identity included), the code hash and a sha256 over its own canonical JSON. A rerun reuses a
cell only if a record with the same hashes exists and its checksum holds, so changed settings, code,
weights or an edited record are recomputed, never mixed in. A record that cannot be read (bad bytes,
bad JSON, a checksum that does not match) is reported by name, moved aside to
``<file>.corrupt-<time>`` and recomputed. A record saved without a configuration hash (a cell whose
model or sampler cannot be fingerprinted) is kept for the table but never reused.

Records are stored by the cell's key (:attr:`~rfbench.runner.suite.Cell.key`: model, sampler, NFE and
seed joined by '|', which no name contains), in ``<readable id>-<12 hex of sha256(key)>.json``: readable,
and distinct for distinct cells even where the ids collide (model ``x-edm`` with ``heun`` and model ``x``
with ``edm-heun``); the key itself is inside the record and checked.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..cache import atomic_write_text, clean_stale_temps, quarantine
from ..errors import ResourceError
from ..identity import config_hash

FORMAT = 2  # records of format 1 (no checksum, names without a hash) are recomputed, never trusted
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+@=\-]")


class CellStore:
    def __init__(self, out_dir: str | Path):
        self.dir = Path(out_dir) / "cells"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResourceError(f"output folder {self.dir} cannot be created ({exc.strerror or exc})") from None
        clean_stale_temps(self.dir)
        self.worker_meta: dict | None = None  # who computed the cell (rfbench.runner.workers)

    def path(self, key: str) -> Path:
        readable = _UNSAFE.sub("_", key.replace("|", "-"))[:150]
        return self.dir / f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"

    def _read(self, path: Path) -> dict | None:
        """The verified record in ``path``, or None (absent, of the old format, or bad: bad ones are
        reported and moved aside)."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            rec = json.loads(raw.decode("utf-8"))
            if not isinstance(rec, dict):
                raise ValueError(f"holds a JSON {type(rec).__name__}, not a record")
        except (UnicodeDecodeError, ValueError) as exc:
            quarantine(path, f"cell record {path} is unreadable ({type(exc).__name__}: {str(exc)[:120]})",
                       then="recomputing the cell")
            return None
        if rec.get("format") != FORMAT:
            return None  # an old record: recomputed and overwritten, not reported
        stored = rec.pop("sha256", None)
        if stored != _checksum(rec) or not isinstance(rec.get("row"), dict):
            quarantine(path, f"cell record {path} does not match its checksum (edited or corrupted)",
                       then="recomputing the cell")
            return None
        return rec

    def load(self, key: str) -> dict | None:
        rec = self._read(self.path(key))
        return rec if rec is not None and rec.get("cell") == key else None

    def fresh(self, key: str, cfg_hash: str | None, code: str) -> dict | None:
        """The stored record if it was made with the same configuration and code, else None."""
        if cfg_hash is None:
            return None
        rec = self.load(key)
        if rec and rec.get("config_hash") == cfg_hash and rec.get("code_hash") == code:
            return rec
        return None

    def save(self, key: str, cfg_hash: str | None, code: str, row: dict, replicates: dict | None = None) -> None:
        body = {"format": FORMAT, "cell": key, "config_hash": cfg_hash, "code_hash": code, "row": row}
        if replicates:  # bootstrap replicate vectors per metric (runner/intervals.py encodes them)
            body["replicates"] = replicates
        if self.worker_meta:
            body["worker"] = self.worker_meta
        body = json.loads(json.dumps(body, default=_jsonable))  # as it will be read back
        body["sha256"] = _checksum(body)
        atomic_write_text(self.path(key), json.dumps(body, indent=1))
        legacy = self.dir / f"{key.replace('|', '-')}.json"  # format 1's name for this cell
        if legacy.name != self.path(key).name and legacy.is_file():
            legacy.unlink()

    def records(self) -> list[dict]:
        """All verified records, ordered by cell key (compare-samplers reads their replicates)."""
        recs = [self._read(p) for p in sorted(self.dir.glob("*.json"))]
        return sorted((r for r in recs if r is not None), key=lambda r: str(r.get("cell")))

    def rows(self, keys: list[str] | None = None) -> list[dict]:
        """Rows of the verified records (of ``keys``, or all of them, ordered by cell id)."""
        if keys is not None:
            recs = [self.load(cid) for cid in keys]
        else:
            recs = [self._read(p) for p in sorted(self.dir.glob("*.json"))]
            recs = sorted((r for r in recs if r is not None), key=lambda r: str(r.get("cell")))
        return [r["row"] for r in recs if r is not None]


def _checksum(body: dict) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(obj):
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def cell_config_hash(cell_dict: dict, settings: dict, device: str, dtype: str) -> str:
    return config_hash({"cell": cell_dict, "settings": settings, "device": device, "dtype": dtype})

