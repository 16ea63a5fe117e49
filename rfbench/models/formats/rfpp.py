"""2-RF++'s released weights (sangyun884/rfpp): a plain state dict of ``EDMPrecondVel(network)``.

``generate.py`` builds the network from a ``configs_unet/*.json`` (``unet_type`` "songunet" or "adm"
plus SongUNet's / DhariwalUNet's arguments) and loads the ``.pth`` with ``load_state_dict``; the keys
carry the wrapper's ``model.`` prefix. The file holds tensors only (weights-only deserialisation).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...errors import CheckpointError
from .rfbench import load_state
from ..nets.precond import EDMPrecondVel

PREFIX = "model."
DOC_FIELDS = ("num_params",)  # recorded in rfpp's JSON configs, not network arguments


def is_rfpp(obj) -> bool:
    return (isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and k.startswith(PREFIX) for k in obj)
            and all(isinstance(v, torch.Tensor) for v in obj.values()))


def build(config: dict, state: dict, path: Path) -> EDMPrecondVel:
    cfg = {k: v for k, v in config.items() if k not in DOC_FIELDS}
    try:
        net = EDMPrecondVel(**cfg)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint file {path}: cannot build rfpp's network from config {cfg} ({exc})") from None
    load_state(net, state, path)
    return net.eval().requires_grad_(False)
