"""EDM's and PFGM++'s files (persistence pickles) -> rfbench's own networks.

The top-level record (``ema`` in a ``.pkl`` snapshot or PFGM++ training state, ``net`` otherwise) is a
preconditioning wrapper; its recorded constructor arguments build rfbench's wrapper and network, and the
records' tensors are loaded into it by name, every tensor used and none missing. Beyond names and
shapes, every record must sit where rfbench's network has a module of the same class, and the scalar
attributes both share (``num_heads``, ``skip_scale``, group counts, ``eps``, resampling flags, sigma
ranges, ``D``, ...) must agree, so a file whose classes were configured differently from what the
arguments imply is refused rather than silently misread.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError
from .rfbench import load_state
from ..nets.precond import PRECONDS
from .persistence import ModuleRecord, PersistentRecord, flatten_state, record_children

UNSUPPORTED = {"iDDPMPrecond": "iDDPM preconditioning (discrete sigma grid) is not supported by rfbench"}


def _scalar(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same(a, b) -> bool:
    a, b = _scalar(a), _scalar(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
            return a == b
        return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))
    return a == b


def check_structure(rec, module: nn.Module, path: Path, prefix: str = "") -> None:
    """Every record where rfbench's network has a module of the same class, with the same sub-modules
    and the same values of the scalar attributes both carry."""
    where = prefix.rstrip(".") or "<root>"
    mine = type(module).__name__
    if rec.class_name != mine:
        raise CheckpointError(f"checkpoint file {path}: {where} is a {rec.class_name} in the file, but rfbench's network "
                              f"has a {mine} there")
    for key, value in rec.state.items():
        if key.startswith("_") or key == "training" or not hasattr(module, key):
            continue
        value = _scalar(value)
        if isinstance(value, (bool, int, float, str)) and isinstance(_scalar(getattr(module, key)), (bool, int, float, str)):
            if not _same(value, getattr(module, key)):
                raise CheckpointError(f"checkpoint file {path}: {where}.{key} is {value!r} in the file but "
                                      f"{getattr(module, key)!r} in the network rfbench builds from its recorded arguments")
    theirs = {k for k, v in record_children(rec).items() if v is not None}
    ours = {k for k, _ in module.named_children()}
    if theirs != ours:
        raise CheckpointError(f"checkpoint file {path}: sub-modules of {where} differ: file {sorted(theirs - ours)} "
                              f"not in rfbench's network, {sorted(ours - theirs)} missing from the file")
    for name, child in record_children(rec).items():
        if child is not None:
            check_structure(child, getattr(module, name), path, f"{prefix}{name}.")


def network_record(obj, path: Path, weights: str | None = None) -> tuple[str, PersistentRecord]:
    """(key, record) of the network to load: ``ema`` by default where present, else ``net``."""
    if isinstance(obj, PersistentRecord):
        return "<root>", obj
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint file {path} holds a {type(obj).__name__}; expected EDM's snapshot dict "
                              "(ema, loss_fn, ...) or a training state (net, ema, optimizer_state)")
    order = {"ema": ["ema"], "live": ["net"], None: ["ema", "net"]}.get(weights)
    if order is None:
        raise CheckpointError(f"checkpoint file {path}: weights must be 'ema' or 'live', got {weights!r}")
    for key in order:
        if isinstance(obj.get(key), PersistentRecord):
            return key, obj[key]
    found = sorted(str(k) for k, v in obj.items() if isinstance(v, PersistentRecord))
    raise CheckpointError(f"checkpoint file {path} has no network record {' or '.join(repr(k) for k in order)} "
                          f"(records found: {found or 'none'})")


def build_from_record(rec: PersistentRecord, path: Path) -> nn.Module:
    """rfbench's preconditioned network for ``rec``, with the file's tensors loaded."""
    name = rec.class_name
    if name in UNSUPPORTED:
        raise CheckpointError(f"checkpoint file {path}: {name}: {UNSUPPORTED[name]}")
    if name not in PRECONDS:
        raise CheckpointError(f"checkpoint file {path}: the network is a {name}; expected a preconditioned network "
                              f"({', '.join(PRECONDS)})")
    if rec.init_args:
        raise CheckpointError(f"checkpoint file {path}: {name} was built with positional arguments; expected keywords")
    kwargs = {k: _scalar(v) for k, v in rec.init_kwargs.items()}
    try:
        net = PRECONDS[name](**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint file {path}: cannot build {name} from its recorded arguments {kwargs} "
                              f"({exc})") from None
    check_structure(rec, net, path)
    state = flatten_state(rec)
    load_state(net, state, path)
    return net.eval().requires_grad_(False)


def is_container(obj) -> bool:
    return isinstance(obj, (PersistentRecord, ModuleRecord))


def count_tensors(rec) -> tuple[int, int]:
    """(tensors, elements) of a record tree."""
    state = flatten_state(rec)
    return len(state), sum(int(t.numel()) for t in state.values() if isinstance(t, torch.Tensor))
