"""rfbench's version, in the core layer so that every layer may record it (result rows, reports)."""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("rfbench")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
