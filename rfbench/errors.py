"""Errors rfbench raises for bad input.

Every error names the offending input and what was expected, so the CLI can print it as one
line (``rfbench: error: ...``) with a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RFBenchError(Exception):
    """Base class of all errors caused by user input or by the environment (missing files)."""


class UnknownNameError(RFBenchError, KeyError):
    """A model, sampler, suite, metric, grid or dataset name that is not registered."""

    def __init__(self, kind: str, name: object, valid: Iterable[str]):
        valid = sorted(valid)
        close = difflib.get_close_matches(str(name), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid)}")
        self.kind, self.name, self.valid = kind, name, valid

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class NotApplicableError(RFBenchError):
    """A sampler or metric whose math does not apply to a model (e.g. DPM-Solver on a velocity
    field with no (alpha, sigma) schedule). Sweeps record such cells with status ``not-applicable`` and the reason."""


class InvalidInputError(RFBenchError, ValueError):
    """A value of the right kind but outside what is accepted (NFE < 1, wrong shape, bad path)."""


class CacheCorruptError(RFBenchError):
    """A cache file whose content does not match its recorded hash or cannot be read."""


class CheckpointError(RFBenchError):
    """A checkpoint that is missing, unreadable, or does not match the model it is loaded into."""


class MissingResourceError(RFBenchError):
    """Weights, data or checkpoints that are not available on this machine (rfbench never downloads
    them at run time). The message names what is missing and how to provide it."""


class ResourceError(RFBenchError):
    """The machine, not the input or the cell: a full disk, a read-only or unusable cache or output folder,
    out of memory, a file that vanished. Nothing is recorded for the cell it hit (a rerun after the cause
    is gone computes it); the CLI prints one line naming the cause and exits 3."""


class SuiteSkipped(RFBenchError):
    """A suite that cannot run here (no GPU, no checkpoints, no data): the CLI prints the one-line
    reason and exits 0; the pytest plugin skips the suite's tests."""


_OOM_TEXT = ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory")


def resource_cause(exc: BaseException) -> str | None:
    """One line naming the machine's part in ``exc`` (a full disk, a read-only folder, missing permission,
    out of memory), or None where the exception is the computation's own. Every ``OSError`` counts: a
    cell's numbers never depend on a file system call failing."""
    if isinstance(exc, ResourceError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"out of memory ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
    text = " ".join(str(exc).split())
    if type(exc).__name__ == "OutOfMemoryError" or (
            isinstance(exc, RuntimeError) and any(t in text.lower() for t in _OOM_TEXT)):
        return f"out of memory ({type(exc).__name__}: {text[:160]})"
    if isinstance(exc, OSError):
        what = exc.strerror or text or type(exc).__name__
        return f"{what}: {exc.filename}" if exc.filename else what
    return None
