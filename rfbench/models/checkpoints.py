"""Checkpoint files: one format for rfbench's own models and for users' external checkpoints.

A checkpoint is a plain dict saved with ``torch.save`` and loaded with ``weights_only=True`` (no
arbitrary unpickling)::

    {"format": "rfbench-checkpoint", "version": 1,
     "model": <registry name>, "net": <network class name>, "net_config": {...},
     "state_dict": {...}, "train_config": {...}, "train_info": {...}}

Files written by rfbench's caches also carry a ``.sha256`` sidecar (see :mod:`rfbench.cache`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError

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


def read_checkpoint(path: str | Path, *, allow_unsafe: bool = False) -> dict:
    """Load a checkpoint dict with safe (weights-only) deserialisation.

    ``allow_unsafe=True`` falls back to full unpickling for files that need it, with a warning:
    only for files you trust.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if not allow_unsafe:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"checkpoint file {path} could not be loaded with weights-only deserialisation ({first}); "
                "if it needs full unpickling and you trust it, pass --allow-unsafe-load"
            ) from None
        warnings.warn(f"loading {path} with full unpickling (allow_unsafe=True): this can run arbitrary code",
                      stacklevel=2)
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise CheckpointError(f"checkpoint file {path} is unreadable: {type(exc2).__name__}: {exc2}") from None
    return obj


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
