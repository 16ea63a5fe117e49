"""Checkpoint files: one format for rfbench's own models and for users' external checkpoints.

A checkpoint is a plain dict saved with ``torch.save`` and loaded with ``weights_only=True`` (no
arbitrary unpickling)::

    {"format": "rfbench-checkpoint", "version": 1,
     "model": <registry name>, "net": <network class name>, "net_config": {...},
     "state_dict": {...}, "train_config": {...}, "train_info": {...}}

Files written by rfbench's caches also carry a ``.sha256`` sidecar (see :mod:`rfbench.cache`).
"""

from __future__ import annotations

import contextlib
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import CheckpointError

FORMAT = "rfbench-checkpoint"
VERSION = 1


def make_checkpoint(model_name: str, net: nn.Module, net_config: dict, *, train_config: dict | None = None,
                    train_info: dict | None = None, **extra: Any) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": model_name,
        "net": type(net).__name__,
        "net_config": dict(net_config),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "train_config": dict(train_config or {}),
        "train_info": dict(train_info or {}),
        **extra,
    }


_ALLOW_UNSAFE = False  # process default of read_checkpoint(allow_unsafe=None); see allow_unsafe_load()
_WARNED_UNSAFE: set[str] = set()


@contextlib.contextmanager
def allow_unsafe_load(allow: bool = True):
    """Within the block, :func:`read_checkpoint` calls that do not say otherwise allow full unpickling
    (what the CLI's ``--allow-unsafe-load`` does for every checkpoint a command reads)."""
    global _ALLOW_UNSAFE
    before, _ALLOW_UNSAFE = _ALLOW_UNSAFE, bool(allow)
    try:
        yield
    finally:
        _ALLOW_UNSAFE = before


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text.split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def read_checkpoint(path: str | Path, *, allow_unsafe: bool | None = None) -> dict:
    """Load a checkpoint dict with safe (weights-only) deserialisation.

    A file that holds more than tensors and plain containers (pickled objects, e.g. a training
    script's ``argparse.Namespace``) is refused with a :class:`CheckpointError` naming the file, the
    object and ``--allow-unsafe-load``. ``allow_unsafe=True`` (None: the process default, False unless
    inside :func:`allow_unsafe_load`) loads such a file with full unpickling, which can run arbitrary
    code: only for files you trust; a warning is given once per file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is not a file")
    allow = _ALLOW_UNSAFE if allow_unsafe is None else allow_unsafe
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's weights-only unpickler names what it refused: a class or function ("Unsupported global:
        # GLOBAL argparse.Namespace") is a file that needs full unpickling; an unknown opcode ("Unsupported
        # operand") is garbage, e.g. a file whose zip header was destroyed
        text = str(exc)
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        detail = " ".join(detail.group(1).split())[:160] if detail else _first_sentence(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if "weights only load failed" not in text.lower() or "unsupported operand" in text.lower():
            raise CheckpointError(f"checkpoint file {path} could not be read as a torch checkpoint "
                                  f"({detail}); expected a file written by torch.save") from None
        what = found.group(1) if found else f"objects other than tensors: {detail}"
        if not allow:
            raise CheckpointError(
                f"checkpoint file {path} needs full unpickling (it holds {what}), which can run arbitrary code; "
                "rfbench loads weights only. If you trust the file, pass --allow-unsafe-load "
                "(Python: allow_unsafe=True)") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, a text file, ...: the file is not a checkpoint
        raise CheckpointError(f"checkpoint file {path} could not be read as a torch checkpoint "
                              f"({_first_sentence(exc)}); expected a file written by torch.save") from None
    if str(path) not in _WARNED_UNSAFE:
        _WARNED_UNSAFE.add(str(path))
        warnings.warn(f"loading checkpoint file {path} with full unpickling (it holds {what}; --allow-unsafe-load): "
                      "this can run arbitrary code, use it only for files you trust", UserWarning, stacklevel=2)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint file {path} is unreadable even with full unpickling "
                              f"({_first_sentence(exc)})") from None


def validate_checkpoint(ckpt: Any, path: str | Path, *, expect_model: str | None = None) -> dict:
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint file {path} holds a {type(ckpt).__name__}, expected an rfbench checkpoint dict")
    if ckpt.get("format") != FORMAT:
        # a bare state dict is accepted by the external-checkpoint loader, not here
        raise CheckpointError(f"checkpoint file {path} is not an rfbench checkpoint (no 'format': '{FORMAT}')")
    for key in ("model", "net_config", "state_dict"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint file {path} lacks the required key {key!r}")
    if expect_model is not None and ckpt["model"] != expect_model:
        raise CheckpointError(f"checkpoint file {path} holds model {ckpt['model']!r}, expected {expect_model!r}")
    return ckpt


def load_state(net: nn.Module, state_dict: dict, path: str | Path) -> nn.Module:
    """``net.load_state_dict`` with an error that names the file and every mismatch."""
    own = net.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:3]}{' ...' if len(shapes) > 3 else ''}")
        raise CheckpointError(f"checkpoint file {path} does not match network {type(net).__name__}: " + "; ".join(parts))
    net.load_state_dict(state_dict)
    return net
