"""rfbench's own checkpoint files and bare state dicts of rfbench's networks (MLP, UNet).

The file is either an rfbench checkpoint (what rfbench's cache holds: the network, its config and the
model config are inside, so only a name and a path are needed) or a bare ``state_dict`` of one of
rfbench's networks, described by ``family``, ``net``, ``net_config`` and ``data_shape``. Files are read
with weights-only deserialisation and checked against ``sha256=`` or a ``<file>.sha256`` sidecar where
given (torch's format itself does not notice flipped bytes in tensor data). A file that is corrupted,
is not a checkpoint, or does not match the network it is said to be raises
:class:`~rfbench.errors.CheckpointError` naming the file and the mismatch.

Families: "flow" (velocity on x_t = (1 - t) x0 + t n in rfbench time; for a velocity trained in the RF
paper's convention use :func:`rfbench.models.from_velocity` instead), "vp-eps" (eps-prediction on a VP
schedule; ``schedule`` and ``t_min`` options) and "edm" (EDM / PFGM++ raw network F with EDM
preconditioning; ``D``, ``sigma_data``, ``sigma_max``, ``sigma_min`` options).
Registration under a name is :func:`rfbench.models.formats.register_checkpoint`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from ...errors import CheckpointError, InvalidInputError
from ...identity import sha256_file
from ..base import FlowModel
from .rfbench import FORMAT, VERSION, read_checkpoint, validate_checkpoint


def _as_checkpoint(obj: Any, path: Path, *, family: str | None, net: str | None, net_config: dict | None,
                   data_shape, dataset: str | None, model_options: dict) -> dict:
    from ..families import PARAM_ALIASES, default_model_config  # families -> trained -> formats: not at import

    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        ckpt = validate_checkpoint(obj, path)
        if family is not None or net is not None or net_config is not None:
            # the file describes itself; a conflicting description is an error, not a silent override
            fam = PARAM_ALIASES.get(family, family) if family else None
            own = (ckpt.get("model_config") or {}).get("param", "flow")
            if fam is not None and fam != own:
                raise CheckpointError(f"checkpoint file {path} holds a {own!r} model, but family={family!r} was given")
            if net is not None and net != ckpt.get("net"):
                raise CheckpointError(f"checkpoint file {path} holds a {ckpt.get('net')} network, but net={net!r} was given")
        return ckpt
    if isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()) and obj:
        missing = [n for n, v in (("family", family), ("net", net), ("net_config", net_config), ("data_shape", data_shape))
                   if v is None]
        if missing:
            raise CheckpointError(f"checkpoint file {path} is a bare state dict; describe it with {', '.join(missing)} "
                                  "(arguments of register_checkpoint, or keys of a --checkpoints JSON entry)")
        if family not in PARAM_ALIASES:
            raise InvalidInputError(f"checkpoint {path}: family must be one of {', '.join(sorted(PARAM_ALIASES))}, "
                                    f"got {family!r}")
        try:
            model_config = default_model_config(PARAM_ALIASES[family], tuple(data_shape), dataset=dataset, **model_options)
        except ValueError as exc:
            raise InvalidInputError(f"checkpoint {path}: {exc}") from None
        return {"format": FORMAT, "version": VERSION, "model": "external", "net": net, "net_config": dict(net_config),
                "state_dict": obj, "model_config": model_config}
    raise CheckpointError(f"checkpoint file {path} holds a {type(obj).__name__}; expected an rfbench checkpoint "
                          "or a state dict (name -> tensor)")


def _verify_bytes(path: Path, sha256: str | None) -> str | None:
    """sha256 of the file, checked against ``sha256`` or a ``<file>.sha256`` sidecar (rfbench's caches
    write one) where either exists: torch's zip format does not notice flipped bytes inside tensor data."""
    if not path.is_file():
        return None
    actual = sha256_file(path)
    side = path.with_name(path.name + ".sha256")
    expected, source = (sha256, "the sha256 given") if sha256 else (
        (side.read_text().strip(), f"its sidecar {side.name}") if side.exists() else (None, None))
    if expected is not None and actual != expected.strip().lower():
        raise CheckpointError(f"checkpoint file {path} is corrupted or was changed: sha256 {actual[:12]}... does not "
                              f"match {expected.strip()[:12]}... recorded in {source}")
    return actual


def load_checkpoint_model(name: str, path: str | Path, *, family: str | None = None, net: str | None = None,
                          net_config: dict | None = None, data_shape=None, dataset: str | None = None,
                          sha256: str | None = None, allow_unsafe: bool | None = None, **model_options) -> FlowModel:
    """Read ``path`` (weights only unless ``allow_unsafe``, see :func:`read_checkpoint`) and build the model;
    see the module docstring for the arguments."""
    path = Path(path).expanduser()
    digest = _verify_bytes(path, sha256)
    obj = read_checkpoint(path, allow_unsafe=allow_unsafe)
    ckpt = _as_checkpoint(obj, path, family=family, net=net, net_config=net_config, data_shape=data_shape,
                          dataset=dataset, model_options=model_options)
    bad = [k for k, v in ckpt["state_dict"].items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"checkpoint file {path} is corrupted: non-finite values in {bad[:3]}")
    from ..families import model_from_checkpoint

    meta = {"config_hash": digest[:16] if digest else None, "checkpoint": str(path), "cache_hit": True,
            "external": True}
    model = model_from_checkpoint(ckpt, path, name=name, meta=meta)
    if dataset is not None:
        model.dataset = dataset
    return model


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


# key -> (test, what is expected); None values mean "not given" and are not checked
_TYPES: dict[str, tuple[Any, str]] = {
    "family": (lambda v: isinstance(v, str), "a string (flow, vp-eps, edm, ...)"),
    "net": (lambda v: isinstance(v, str), "a network class name (MLP, UNet)"),
    "net_config": (lambda v: isinstance(v, dict), "an object of the network's arguments"),
    "data_shape": (lambda v: isinstance(v, (list, tuple)) and len(v) > 0
                   and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v),
                   "a list of positive integers, e.g. [2] or [1, 8, 8]"),
    "dataset": (lambda v: isinstance(v, str), "a dataset name"),
    "sha256": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{64}", v.strip()) is not None,
               "a string of 64 hex digits"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "schedule": (lambda v: isinstance(v, dict), "an object (a schedule's config)"),
    "t_min": (_is_number, "a number"),
    "D": (lambda v: _is_number(v) and v > 0, "a positive number (inf for EDM)"),
    "sigma_data": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "sigma_max": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "sigma_min": (lambda v: _is_number(v) and v > 0, "a positive number"),
}


def check_types(values: dict[str, Any], where: str) -> None:
    """One-line :class:`InvalidInputError` for the first value of the wrong type (JSON lists are
    typed by hand, so a number where a string belongs must not reach the loader)."""
    for key, value in values.items():
        if value is None or key not in _TYPES:
            continue
        test, expected = _TYPES[key]
        if not test(value):
            raise InvalidInputError(f"{where}: {key!r} must be {expected}, got {value!r}")


# keys of an entry of a checkpoint list: register_checkpoint's arguments and the families' model options
LIST_KEYS = {"name", "path", "family", "net", "net_config", "data_shape", "dataset", "sha256", "description",
             "schedule", "t_min", "D", "sigma_data", "sigma_max", "sigma_min"}
