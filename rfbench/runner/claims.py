"""Claims: which worker is computing which cell, so that many workers can share one cell store.

Before computing a cell a worker creates ``cells/.claims/<record name>.claim`` atomically: the claim's
JSON (pid, host, process start, start time, a random token) is written to a temporary file and then
hard-linked to the claim's name, which fails if the name exists (the classic lock-file recipe, atomic
on local file systems and NFS alike, and a claim is never seen half-written). A thread touches the
claims a worker holds every ``heartbeat`` seconds; after the cell's record is saved the claim is
removed.

A claim is *stale*, and taken over, when

* its worker is gone: the claim was made on this host and its pid no longer runs (or now belongs to a
  process started at another time, a reused pid), or
* it was made by an earlier run of this very scheduler task (same SLURM job and array ids, another
  process: the task was preempted and requeued), or
* its heartbeat stopped: the file was not touched for ``timeout`` seconds (a worker on another node
  that died, was preempted or lost the shared file system).

Taking over renames the stale claim aside (only one of several racing workers succeeds), checks that
the file renamed is the claim judged stale (else puts it back), and then claims as usual. The stale
claim's content and the reason are kept in the :class:`Claim` and, through the worker loop, in the
cell's record. Clocks: the heartbeat compares a file's modification time, set by the file server,
with this host's clock; hosts whose clocks disagree by more than ``timeout`` must raise it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TIMEOUT_S = 600.0  # a claim whose heartbeat stopped this long ago is taken over
HEARTBEAT_S = 30.0
CLAIM_DIR = ".claims"


def _proc_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), counted after the command name


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _job_id() -> str | None:
    """The scheduler's id of this task (a SLURM array task keeps it when requeued)."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"slurm:{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return f"slurm:{env['SLURM_JOB_ID']}" if env.get("SLURM_JOB_ID") else None


def worker_info() -> dict:
    pid = os.getpid()
    info = {"pid": pid, "host": socket.gethostname(), "proc_start": _proc_start(pid)}
    job = _job_id()
    if job:
        info["job"] = job
    return info


@dataclass
class Claim:
    key: str
    path: Path
    info: dict
    took_over: dict | None = None  # the stale claim replaced, with "reason"
    started: float = field(default_factory=time.time)


class Claims:
    """The claims of one cell store (``store_dir`` is its ``cells`` folder)."""

    def __init__(self, store_dir: str | Path, *, timeout: float = DEFAULT_TIMEOUT_S, heartbeat: float = HEARTBEAT_S):
        self.dir = Path(store_dir) / CLAIM_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.timeout = float(timeout)
        self.heartbeat = float(heartbeat)
        self._held: dict[str, Claim] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def path(self, record_path: Path) -> Path:
        return self.dir / (Path(record_path).stem + ".claim")

    # -- reading ---------------------------------------------------------------------------------
    @staticmethod
    def read(path: Path) -> dict | None:
        try:
            info = json.loads(Path(path).read_text())
            return info if isinstance(info, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: judged by its age alone

    def stale_reason(self, info: dict, path: Path) -> str | None:
        """Why the claim in ``path`` (content ``info``) is stale, or None while its worker lives."""
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return "released"
        if age > self.timeout:
            return f"no heartbeat for {age:.0f} s (timeout {self.timeout:.0f} s)"
        mine = worker_info()
        if info.get("job") and info["job"] == mine.get("job") and info.get("pid") != mine["pid"]:
            return f"its task ({info['job']}) was requeued"
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            pid = info["pid"]
            if not _pid_alive(pid):
                return f"its worker (pid {pid} on {info['host']}) is gone"
            start = _proc_start(pid)
            if info.get("proc_start") and start and start != info["proc_start"]:
                return f"its worker (pid {pid} on {info['host']}) is gone (the pid now belongs to another process)"
        return None

    # -- claiming --------------------------------------------------------------------------------
    def acquire(self, key: str, record_path: Path, **extra) -> Claim | None:
        """Claim the cell; None where a live worker holds it."""
        path = self.path(record_path)
        took_over = None
        for _ in range(4):
            info = {**worker_info(), "cell": key, "started": time.time(), "token": uuid.uuid4().hex, **extra}
            tmp = self.dir / f".tmp-{info['token']}"
            tmp.write_text(json.dumps(info))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            else:
                claim = Claim(key, path, info, took_over)
                with self._lock:
                    self._held[key] = claim
                self._start_heartbeat()
                return claim
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            current = self.read(path)
            if current is None:
                continue  # released meanwhile: claim again
            reason = self.stale_reason(current, path)
            if reason is None:
                return None
            if reason == "released":
                continue
            aside = self.dir / f".stale-{uuid.uuid4().hex}"
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue  # another worker took it over first
            moved = self.read(aside) or {}
            if moved.get("token") != current.get("token"):  # a fresh claim was made after we looked
                with contextlib.suppress(FileExistsError):
                    os.link(aside, path)
                with contextlib.suppress(OSError):
                    aside.unlink()
                return None
            with contextlib.suppress(OSError):
                aside.unlink()
            took_over = {**{k: current.get(k) for k in ("pid", "host", "started", "token")}, "reason": reason}
        return None

    def holds(self, claim: Claim) -> bool:
        """Whether ``claim`` is still this worker's (not taken over after a missed heartbeat)."""
        return (self.read(claim.path) or {}).get("token") == claim.info["token"]

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._held.pop(claim.key, None)
        if self.holds(claim):
            with contextlib.suppress(FileNotFoundError):
                claim.path.unlink()

    def holder(self, record_path: Path) -> dict | None:
        return self.read(self.path(record_path))

    # -- heartbeat -------------------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._beat, name="rfbench-claims-heartbeat", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with self._lock:
                held = list(self._held.values())
            for claim in held:
                with contextlib.suppress(OSError):
                    os.utime(claim.path)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            held = list(self._held.values())
        for claim in held:
            self.release(claim)
