"""Progress on long work, with or without a terminal.

* On a terminal (stderr is a TTY): tqdm bars, as before.
* Without one (output piped to a log file, a cluster job): a heartbeat thread writes one line to stderr
  every :data:`INTERVAL_S` seconds (``RFBENCH_PROGRESS_INTERVAL`` overrides it) while any bar is open,
  naming every open bar, outermost first, with done/total, elapsed time and ETA::

      rfbench: toy2d 12/40 cells, 1m05s elapsed, ETA 2m32s | train 1-rf on 8gaussians 1200/5000 steps, ...

  The heartbeat runs on its own thread, so a line comes even while one cell trains a model for minutes.
  Bars that are kept (``leave=True``, the sweep's) also write a line when they start and finish.
* :func:`announce` writes one line before an expensive one-off step (training, reflow pairs, a reference
  solve, a BOSS calibration, a refiner) saying what it is and how big; a bar opened with
  ``estimate=True`` then writes, once, how long the whole step will take, extrapolated from the rate of
  its first :data:`ESTIMATE_AFTER_S` seconds and at least :data:`ESTIMATE_MIN_ITEMS` items, the first
  item (warm-up) counted apart (labelled "estimate").

``RFBENCH_PROGRESS=0`` or :func:`quiet` silences all of it (``rfbench run --no-progress`` does).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

INTERVAL_S = 20.0  # < 30 s, so a line comes at least every 30 s even on a loaded machine
ESTIMATE_AFTER_S = 3.0
ESTIMATE_MIN_ITEMS = 5  # the estimate extrapolates from at least this many items

_LOCK = threading.RLock()
_OPEN: list[Bar] = []
_THREAD: threading.Thread | None = None
_QUIET = [0]
_NOW: list = [None, 0.0]  # the last announced step and when: named by the heartbeat until a bar moves on


def interval() -> float:
    try:
        return max(0.05, float(os.environ.get("RFBENCH_PROGRESS_INTERVAL", INTERVAL_S)))
    except ValueError:
        return INTERVAL_S


def enabled() -> bool:
    return _QUIET[0] == 0 and os.environ.get("RFBENCH_PROGRESS", "1") not in ("0", "false", "no", "off")


def is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def quiet(on: bool = True):
    """No progress output inside the block (when ``on``)."""
    _QUIET[0] += bool(on)
    try:
        yield
    finally:
        _QUIET[0] -= bool(on)


def fmt_s(seconds: float | None) -> str:
    """45s, 3m05s, 1h02m."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def emit(line: str) -> None:
    """One line to stderr (through tqdm on a terminal, so open bars are not torn)."""
    if is_tty():
        from tqdm.auto import tqdm

        tqdm.write(f"rfbench: {line}", file=sys.stderr)
    else:
        print(f"rfbench: {line}", file=sys.stderr, flush=True)


def announce(what: str, *, show: bool = True) -> None:
    """A line before an expensive one-off step: what it is and how big (steps, sizes); ``show=False``
    (a caller's ``progress=False``) says nothing."""
    if show and enabled():
        _NOW[:] = [what.split(":")[0], time.monotonic()]
        emit(what)


class Bar:
    """tqdm's iterable interface (``set_postfix``, ``set_postfix_str``, ``update``, ``close``), with the
    heartbeat lines when stderr is not a terminal. ``disable=True`` turns it off (None/False: on)."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", disable: bool | None = None, leave: bool = True, estimate: bool = False, **kw):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit, self.leave = total, desc, unit, leave
        self.n, self.postfix, self.start = 0, "", time.monotonic()
        self.active = not disable and enabled()
        self.tty = is_tty()
        self._estimate = estimate and self.active and not self.tty  # tqdm shows its own ETA on a terminal
        self._tqdm = None
        self._first: float | None = None  # when the first item finished
        self._closed = False
        if self.active and self.tty:
            from tqdm.auto import tqdm

            self._tqdm = tqdm(total=total, desc=desc, unit=unit, leave=leave, **kw)
        elif self.active:
            if leave:
                emit(f"{desc}: {total} {unit}s to do" if total is not None else f"{desc}: started")
            _open(self)

    # -- tqdm's interface --------------------------------------------------------------------------
    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return self.total or 0

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        _NOW[0] = None
        if self._tqdm is not None:
            self._tqdm.update(n)
        if self._estimate and self.total:
            now = time.monotonic()
            if self._first is None:  # the first item pays for warm-up (allocations, caches): rate from the rest
                self._first = now
            elapsed = now - self.start
            if self.n == self.total:
                self._estimate = False
            elif elapsed >= ESTIMATE_AFTER_S and self.n >= ESTIMATE_MIN_ITEMS:
                self._estimate = False
                whole = (self._first - self.start) + (now - self._first) * (self.total - 1) / (self.n - 1)
                emit(f"{self.desc}: estimate ~{fmt_s(whole)} for {self.total} {self.unit}s "
                     f"(from the first {self.n} in {fmt_s(elapsed)})")

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(s, refresh=refresh)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kw) -> None:
        items = {**(ordered_dict or {}), **kw}
        self.set_postfix_str(", ".join(f"{k}={v}" for k, v in items.items()), refresh=refresh)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.active:
            _close(self)
            if self.leave:
                emit(f"{self.desc}: {self.n}/{self.total} {self.unit}s done in {fmt_s(time.monotonic() - self.start)}")

    # -- the heartbeat's line ----------------------------------------------------------------------
    def status(self) -> str:
        elapsed = time.monotonic() - self.start
        done = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        eta = ""
        if self.total:
            eta = f", ETA {fmt_s(elapsed * (self.total - self.n) / self.n)}" if self.n else ", ETA ?"
        extra = f" [{self.postfix}]" if self.postfix else ""
        return f"{self.desc} {done} {self.unit}s, {fmt_s(elapsed)} elapsed{eta}{extra}"


def bar(iterable: Iterable | None = None, **kw) -> Bar:
    """A progress bar over ``iterable`` (keywords as :class:`Bar`)."""
    return Bar(iterable, **kw)


def _open(b: Bar) -> None:
    global _THREAD
    with _LOCK:
        _OPEN.append(b)
        if _THREAD is None:
            _THREAD = threading.Thread(target=_heartbeat, name="rfbench-progress", daemon=True)
            _THREAD.start()


def _close(b: Bar) -> None:
    with _LOCK:
        if b in _OPEN:
            _OPEN.remove(b)


def _heartbeat() -> None:
    global _THREAD
    last = time.monotonic()
    while True:
        time.sleep(min(0.5, interval() / 4))
        with _LOCK:
            if not _OPEN:
                _THREAD = None
                return
            if time.monotonic() - last < interval():
                continue
            last = time.monotonic()
            line = " | ".join(b.status() for b in _OPEN)
            if _NOW[0] is not None:
                line += f" | now: {_NOW[0]} ({fmt_s(time.monotonic() - _NOW[1])} so far)"
        if enabled():
            emit(line)

