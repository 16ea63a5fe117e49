"""Shared plumbing of samplers with a one-off, per-model cost (BOSS's step-size calibration,
FlowTurbo's refiner training): identifying a model's content for cache keys, an in-process memo
attached to the model object, and the device a model lives on.

The per-model work is done the first time a plan needs it, saved to the disk cache
(:func:`rfbench.cache.cached`) and memoised in the process, so later ``sample()`` calls (the
runner's timed repeats) pay nothing for it and ``wall_clock_s`` stays sampling time only.
"""

from __future__ import annotations

import weakref

import torch

from ..models.base import FlowModel

_MEMO: weakref.WeakKeyDictionary[FlowModel, dict] = weakref.WeakKeyDictionary()


def memo_for(model: FlowModel) -> dict:
    """A dict that lives as long as ``model`` (per-process memo of its calibrations)."""
    if model not in _MEMO:
        _MEMO[model] = {}
    return _MEMO[model]


def model_fingerprint(model: FlowModel) -> str | None:
    """The model's :meth:`~rfbench.models.base.FlowModel.fingerprint` (None: do not use the disk cache)."""
    return model.fingerprint()


def model_device(model: FlowModel) -> torch.device:
    for p in list(model.parameters()) + list(model.buffers()):
        return p.device
    return torch.device("cpu")
