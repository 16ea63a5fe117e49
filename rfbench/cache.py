"""On-disk caches: where they live, how they are keyed, and how they are written and verified.

Everything rfbench caches (trained checkpoints, reference solutions, reference statistics, BOSS
calibrations, FlowTurbo refiners) goes through :func:`cached`:

* the file name carries a hash of everything the content depends on (:func:`config_hash`),
* the file is written atomically (temporary file in the same folder, then ``os.replace``), so a
  crash or kill never leaves a half-written cache file under the final name,
* a sidecar ``<file>.sha256`` records the content hash; a file whose bytes no longer match is
  reported, moved aside to ``<file>.corrupt-<timestamp>`` and rebuilt.

The cache root is ``$RFBENCH_CACHE`` if set, else ``~/.cache/rfbench``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from .errors import CacheCorruptError

T = TypeVar("T")


def cache_root() -> Path:
    root = os.environ.get("RFBENCH_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "rfbench"
    return path


def cache_dir(*parts: str) -> Path:
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _canonical(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return "nan"
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return hashlib.sha256(obj.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
    return repr(obj)


def config_hash(obj: Any, length: int = 16) -> str:
    """A stable short hash of a JSON-like configuration (dict keys sorted, tensors hashed by value)."""
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def torch_to_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torch_from_bytes(data: bytes, *, weights_only: bool = True) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=weights_only)


def write_verified(path: Path, data: bytes) -> None:
    """Atomically write ``data`` and its sha256 sidecar (the sidecar last, so it vouches for the file)."""
    path = Path(path)
    atomic_write_bytes(path, data)
    atomic_write_text(path.with_name(path.name + ".sha256"), sha256_bytes(data) + "\n")


def read_verified(path: Path) -> bytes:
    """Read a file written by :func:`write_verified`; raise :class:`CacheCorruptError` on mismatch."""
    path = Path(path)
    side = path.with_name(path.name + ".sha256")
    data = path.read_bytes()
    if not side.exists():
        raise CacheCorruptError(f"cache file {path} has no hash record ({side.name} is missing)")
    expected = side.read_text().strip()
    actual = sha256_bytes(data)
    if actual != expected:
        raise CacheCorruptError(
            f"cache file {path} is corrupted: sha256 {actual[:12]}... does not match the recorded "
            f"{expected[:12]}..."
        )
    return data


def quarantine(path: Path, reason: str) -> Path:
    """Move a bad cache file (and its sidecar) aside, warn, and return the new location."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():  # a second bad copy within the same second keeps the first
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    if path.exists():
        os.replace(path, dest)
    side = path.with_name(path.name + ".sha256")
    if side.exists():
        os.replace(side, dest.with_name(dest.name + ".sha256"))
    warnings.warn(f"{reason}; moved it to {dest.name} and rebuilding", stacklevel=3)
    return dest


def cached(
    path: Path,
    build: Callable[[], T],
    *,
    encode: Callable[[T], bytes] = torch_to_bytes,
    decode: Callable[[bytes], T] = torch_from_bytes,
    refresh: bool = False,
) -> tuple[T, bool]:
    """Return ``(value, hit)``: the verified cached value at ``path``, or ``build()`` saved there.

    A file that fails verification or decoding is quarantined and rebuilt, never silently used.
    """
    path = Path(path)
    if path.exists() and not refresh:
        try:
            return decode(read_verified(path)), True
        except CacheCorruptError as exc:
            quarantine(path, str(exc))
        except Exception as exc:  # unreadable although the hash matched (e.g. incompatible format)
            first = " ".join(str(exc).split())[:200]
            quarantine(path, f"cache file {path} could not be decoded ({type(exc).__name__}: {first})")
    value = build()
    write_verified(path, encode(value))
    return value, False
