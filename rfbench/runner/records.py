"""Cell records: one JSON file per finished cell, written atomically as soon as the cell ends.

A record carries the cell's configuration hash and the code hash; a rerun skips a cell only if a
record with the same hashes exists, so changed settings or code are recomputed, never mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..cache import atomic_write_text, config_hash


class CellStore:
    def __init__(self, out_dir: str | Path):
        self.dir = Path(out_dir) / "cells"
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, cell_id: str) -> Path:
        return self.dir / f"{cell_id}.json"

    def load(self, cell_id: str) -> dict | None:
        path = self.path(cell_id)
        if not path.exists():
            return None
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # unreadable: recomputed (atomic writes make this rare)
        return rec if isinstance(rec, dict) and "row" in rec else None

    def fresh(self, cell_id: str, cfg_hash: str, code: str) -> dict | None:
        """The stored record if it was made with the same configuration and code, else None."""
        rec = self.load(cell_id)
        if rec and rec.get("config_hash") == cfg_hash and rec.get("code_hash") == code:
            return rec
        return None

    def save(self, cell_id: str, cfg_hash: str, code: str, row: dict) -> None:
        rec = {"cell": cell_id, "config_hash": cfg_hash, "code_hash": code, "row": row}
        atomic_write_text(self.path(cell_id), json.dumps(rec, indent=1, default=_jsonable))

    def rows(self, cell_ids: list[str] | None = None) -> list[dict]:
        ids = cell_ids if cell_ids is not None else sorted(p.stem for p in self.dir.glob("*.json"))
        out = []
        for cid in ids:
            rec = self.load(cid)
            if rec is not None:
                out.append(rec["row"])
        return out


def _jsonable(obj):
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def cell_config_hash(cell_dict: dict, settings: dict, device: str, dtype: str) -> str:
    return config_hash({"cell": cell_dict, "settings": settings, "device": device, "dtype": dtype})
