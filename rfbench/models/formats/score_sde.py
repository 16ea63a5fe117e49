"""score_sde's and RectifiedFlow's training checkpoints (``checkpoint_N.pth``) -> NCSN++ weights.

The file is ``torch.save({"optimizer", "model", "ema", "step"})`` with tensors and plain containers
only, so it is read with torch's weights-only unpickler. ``model`` is the state dict of the network
wrapped in ``torch.nn.DataParallel`` (keys prefixed ``module.``); ``ema`` is ``{"decay", "num_updates",
"shadow_params"}``, the EMA weights as an unnamed list in the order of ``parameters()``, restricted to
parameters that require gradients (score_sde's Gaussian Fourier ``W`` does not). Both papers sample
with the EMA weights: rfbench maps the list onto its own network's parameters in that order (which
is the original's, since the modules are registered in the original order), after checking that the
file's ``model`` keys list the same parameters in the same order and that every shape matches.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ...errors import CheckpointError
from .rfbench import load_state

PREFIX = "module."


def is_score_sde(obj) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get("model"), dict) and isinstance(obj.get("ema"), dict)
            and "shadow_params" in obj["ema"])


def model_state(obj: dict, path: Path) -> dict[str, torch.Tensor]:
    """The live weights, ``module.`` stripped (a file saved without DataParallel has no prefix)."""
    state = obj["model"]
    keys = list(state)
    if keys and all(k.startswith(PREFIX) for k in keys):
        state = {k[len(PREFIX):]: v for k, v in state.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"checkpoint file {path}: model entries {bad[:3]} are not tensors")
    return dict(state)


def ema_state(obj: dict, net: nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """The model state with every trainable parameter replaced by its EMA shadow, in parameters() order."""
    state = model_state(obj, path)
    names = net.ema_parameter_names()
    shadow = obj["ema"].get("shadow_params")
    if not isinstance(shadow, (list, tuple)) or not all(isinstance(t, torch.Tensor) for t in shadow):
        raise CheckpointError(f"checkpoint file {path}: ema.shadow_params is not a list of tensors")
    if len(shadow) != len(names):
        raise CheckpointError(f"checkpoint file {path}: the EMA list has {len(shadow)} tensors but the network has "
                              f"{len(names)} trainable parameters; the configuration does not match the file")
    wanted = set(names)
    in_file = [k for k in state if k in wanted]
    if in_file != names:
        first = next((i for i, (a, b) in enumerate(zip(in_file, names)) if a != b), min(len(in_file), len(names)))
        raise CheckpointError(f"checkpoint file {path}: the file lists its parameters in another order than the network "
                              f"(first difference at position {first}), so the unnamed EMA list cannot be mapped")
    for name, t in zip(names, shadow):
        if name in state and tuple(state[name].shape) != tuple(t.shape):
            raise CheckpointError(f"checkpoint file {path}: EMA tensor for {name} has shape {tuple(t.shape)}, "
                                  f"the parameter {tuple(state[name].shape)}")
        state[name] = t
    return state


def load_weights(obj: dict, net: nn.Module, path: Path, weights: str | None = "ema") -> nn.Module:
    """Load the EMA (default) or live (``weights="live"``) weights into ``net``, strictly."""
    weights = weights or "ema"
    if weights == "ema":
        state = ema_state(obj, net, path)
    elif weights == "live":
        state = model_state(obj, path)
    else:
        raise CheckpointError(f"checkpoint file {path}: weights must be 'ema' or 'live', got {weights!r}")
    load_state(net, state, path)
    return net.eval().requires_grad_(False)


def write_checkpoint(path: Path, net: nn.Module, *, step: int = 0, decay: float = 0.999999) -> Path:
    """Save an rfbench :class:`~rfbench.models.nets.NCSNpp` in the score_sde / RectifiedFlow layout
    (``module.``-prefixed live weights, the unnamed EMA list in parameters() order, an empty optimiser
    state): stand-in files for smoke runs and tests, read back by :func:`load_weights`. Written
    atomically; plain tensors and containers only."""
    import os

    params = dict(net.named_parameters())
    data = {"optimizer": {"state": {}, "param_groups": []},
            "model": {f"{PREFIX}{k}": v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "ema": {"decay": decay, "num_updates": step,
                    "shadow_params": [params[n].detach().cpu().clone() for n in net.ema_parameter_names()]},
            "step": step}
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return path
