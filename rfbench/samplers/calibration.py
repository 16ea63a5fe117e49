"""Shared plumbing of samplers with a one-off, per-model cost (BOSS's step-size calibration,
FlowTurbo's refiner training): identifying a model's content for cache keys, an in-process memo
attached to the model object, and the device a model lives on.

The per-model work is done the first time a plan needs it, saved to the disk cache
(:func:`rfbench.cache.cached`) and memoised in the process, so later ``sample()`` calls (the
runner's timed repeats) pay nothing for it and ``wall_clock_s`` stays sampling time only.
"""

from __future__ import annotations

import hashlib
import weakref

import torch
from torch import nn

from .. import cache
from ..models.base import FlowModel

_MEMO: weakref.WeakKeyDictionary[FlowModel, dict] = weakref.WeakKeyDictionary()


def memo_for(model: FlowModel) -> dict:
    """A dict that lives as long as ``model`` (per-process memo of its calibrations)."""
    if model not in _MEMO:
        _MEMO[model] = {}
    return _MEMO[model]


def model_fingerprint(model: FlowModel) -> str | None:
    """A hash of the model's config and of every parameter and buffer value, or None where that
    does not identify the model (a ``from_velocity`` wrapper of a plain function: its config holds
    only the function's name). None means "do not use the disk cache"."""
    from ..models.wrappers import VelocityFunctionModel

    if isinstance(model, VelocityFunctionModel) and not isinstance(model.fn, nn.Module):
        return None
    h = hashlib.sha256(cache.config_hash(model.config(), length=64).encode())
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(value.dtype).encode() + str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def model_device(model: FlowModel) -> torch.device:
    for p in list(model.parameters()) + list(model.buffers()):
        return p.device
    return torch.device("cpu")
