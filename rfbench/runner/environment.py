"""What a result row records about the code and machine that produced it."""

from __future__ import annotations

import functools
import platform
import subprocess

import torch

from .._version import __version__
from ..identity import PACKAGE_DIR, code_hash  # noqa: F401  (code_hash: re-exported)


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """``<sha>`` or ``<sha>-dirty`` of the checkout rfbench runs from, None outside a git checkout."""
    try:
        root = PACKAGE_DIR.parent
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "rfbench"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
        return sha[:12] + ("-dirty" if dirty else "")
    except Exception:
        return None


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


@functools.lru_cache(maxsize=4)
def environment(device: str = "cpu") -> dict:
    return {
        "rfbench_version": __version__,
        "git_commit": git_commit(),
        "code_hash": code_hash(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device_name": device_name(device),
        "torch_threads": torch.get_num_threads(),
    }
