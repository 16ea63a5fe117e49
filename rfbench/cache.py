"""On-disk caches: where they live, how they are keyed, and how they are written and verified.

Everything rfbench caches (trained checkpoints, reference solutions, reference statistics, BOSS
calibrations, FlowTurbo refiners) goes through :func:`cached`:

* the file name carries a hash of everything the content depends on (:func:`config_hash`, and a
  model's :meth:`~rfbench.models.base.FlowModel.fingerprint`), and stays inside its folder
  (:func:`cache_file` refuses names that would leave it),
* the file and a sidecar ``<file>.sha256`` with its content hash are written to temporary files
  first and then renamed together under the folder's lock (``.rfbench-lock``, where the platform has
  ``flock``), so a crash or kill never leaves a half-written file under the final name and a
  concurrent reader (who takes the lock shared) never sees a file with another file's hash,
* a file whose bytes no longer match its hash is reported, moved aside to ``<file>.corrupt-<timestamp>``
  and rebuilt,
* files get the permissions the user's umask gives (a shared cache stays readable to colleagues), and
  temporary files that a killed writer left behind are removed when their folder is next opened
  (once they are an hour old: a live writer's are younger).

The cache root is ``$RFBENCH_CACHE`` if set, else ``~/.cache/rfbench``; :func:`check_usable` tests it
once before a sweep starts.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch

from .errors import CacheCorruptError, InvalidInputError, ResourceError
from .identity import canonical as _canonical  # noqa: F401  (the old name of identity.canonical)
from .identity import config_hash, sha256_bytes  # noqa: F401  (re-exported: callers key caches with them)

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; readers fall back to one retry on a mismatch
    fcntl = None

T = TypeVar("T")
STALE_TMP_S = 3600.0  # temporary files older than this are a killed writer's leftovers
LOCK_NAME = ".rfbench-lock"
_SAFE_PART = re.compile(r"^[A-Za-z0-9_.+@=\-]+$")
_CLEANED: set[str] = set()


def cache_root() -> Path:
    root = os.environ.get("RFBENCH_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "rfbench"
    return path


def _root_label() -> str:
    return f"RFBENCH_CACHE={os.environ['RFBENCH_CACHE']}" if os.environ.get("RFBENCH_CACHE") else f"cache folder {cache_root()}"


def check_usable() -> Path:
    """The cache root, created if missing and tested with a write: a regular file in its place is bad
    input (:class:`InvalidInputError`); a folder that cannot be written (read-only, full, no permission)
    is a :class:`ResourceError`. Run once before work starts, so no cell pays for finding out."""
    root = cache_root()
    for p in (root, *root.parents):
        if p.exists():
            if not p.is_dir():
                where = "" if p == root else f" ({p} is a file)"
                raise InvalidInputError(f"{_root_label()} is not a folder{where}; expected a folder for rfbench's "
                                        "caches (created if missing)")
            break
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=root)
        try:
            os.write(fd, b"rfbench")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise ResourceError(f"{_root_label()} cannot be written ({exc.strerror or exc}); rfbench needs a writable "
                            "cache folder") from None
    return root


def cache_dir(*parts: str) -> Path:
    """``cache_root()/parts...``, created; each part is one plain name (never a path of its own)."""
    for part in parts:
        _check_part(part, "cache folder")
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    return path


def cache_file(folder: str, name: str) -> Path:
    """The path of cache file ``name`` in ``cache_dir(folder)``. ``name`` is built from model names and
    hashes; one that would leave the folder (a separator, ``..``, an absolute path) is refused."""
    _check_part(name, "cache file name")
    path = cache_dir(folder) / name
    if path.resolve().parent != cache_dir(folder).resolve():
        raise InvalidInputError(f"cache file name {name!r} leaves its folder {folder!r}")
    return path


def _check_part(part: str, what: str) -> None:
    if not isinstance(part, str) or not _SAFE_PART.match(part) or part in (".", "..") or part.startswith(".."):
        raise InvalidInputError(f"{what} {part!r} must be one plain name (letters, digits and '_.+@=-'); "
                                "model names are checked where models are made")


def clean_stale_temps(folder: Path, age_s: float = STALE_TMP_S) -> int:
    """Remove ``.<name>.*.tmp`` files older than ``age_s`` in ``folder`` (once per folder and process);
    returns how many were removed."""
    key = str(folder)
    if key in _CLEANED:
        return 0
    _CLEANED.add(key)
    removed, now = 0, time.time()
    try:
        for p in Path(folder).glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > age_s:
                    p.unlink()
                    removed += 1
    except OSError:
        pass
    return removed


# -- permissions and atomic writes ---------------------------------------------------------------------
def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stage(path: Path, data: bytes) -> str:
    """Write ``data`` to a temporary file next to ``path`` (flushed to disk, umask permissions, not
    0600 as mkstemp makes it); returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), 0o666 & ~_umask())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path = Path(path)
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


@contextlib.contextmanager
def folder_lock(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """An advisory lock on ``folder`` (flock on ``folder/.rfbench-lock``): writers of a file and its
    sidecar hold it exclusively for the two renames, readers shared while they read both. Where the
    lock cannot be taken (no flock, a read-only folder) the block runs unlocked."""
    fd = None
    if fcntl is not None:
        lock = Path(folder) / LOCK_NAME
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                fd = os.open(lock, flags, 0o666 & ~_umask())
                break
            except OSError:
                continue
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            except OSError:
                pass
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def torch_to_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torch_from_bytes(data: bytes, *, weights_only: bool = True) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=weights_only)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_verified(path: Path, data: bytes) -> None:
    """Atomically write ``data`` and its sha256 sidecar, renamed one after the other under the folder's
    exclusive lock, so that a reader (shared lock) sees the old pair or the new pair, never a mix."""
    path = Path(path)
    staged = [_stage(path, data), _stage(_sidecar(path), (sha256_bytes(data) + "\n").encode())]
    try:
        with folder_lock(path.parent, exclusive=True):
            os.replace(staged[0], path)
            os.replace(staged[1], _sidecar(path))
    except BaseException:
        for tmp in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def _read_pair(path: Path) -> tuple[bytes, str | None]:
    with folder_lock(path.parent, exclusive=False):
        data = path.read_bytes()
        side = _sidecar(path)
        return data, (side.read_text().strip() if side.exists() else None)


def read_verified(path: Path, *, retry_s: float = 0.2) -> bytes:
    """Read a file written by :func:`write_verified`; raise :class:`CacheCorruptError` on a mismatch.

    A mismatch is read once more after ``retry_s`` before it counts: where no lock is available a
    writer may be between its two renames."""
    path = Path(path)
    for attempt in range(2):
        data, expected = _read_pair(path)
        actual = sha256_bytes(data)
        if expected == actual:
            return data
        if attempt == 0:
            time.sleep(retry_s)
    if expected is None:
        raise CacheCorruptError(f"cache file {path} has no hash record ({_sidecar(path).name} is missing)")
    raise CacheCorruptError(
        f"cache file {path} is corrupted: sha256 {actual[:12]}... does not match the recorded {expected[:12]}..."
    )


def quarantine(path: Path, reason: str, *, then: str = "rebuilding") -> Path:
    """Move a bad file (and its sidecar) aside, warn (``reason; moved it to X and <then>``), and return
    the new location."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():  # a second bad copy within the same second keeps the first
        n += 1
        dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    if path.exists():
        os.replace(path, dest)
    side = _sidecar(path)
    if side.exists():
        os.replace(side, dest.with_name(dest.name + ".sha256"))
    warnings.warn(f"{reason}; moved it to {dest.name} and {then}", stacklevel=3)
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
    if not refresh:
        data = None
        try:
            data = read_verified(path)
        except FileNotFoundError:  # a miss (or moved aside by another process meanwhile)
            pass
        except CacheCorruptError as exc:
            quarantine(path, str(exc))
        if data is not None:
            try:
                return decode(data), True
            except Exception as exc:  # unreadable although the hash matched (e.g. incompatible format)
                first = " ".join(str(exc).split())[:200]
                quarantine(path, f"cache file {path} could not be decoded ({type(exc).__name__}: {first})")
    value = build()
    write_verified(path, encode(value))
    return value, False
