"""Writers of test files in the released checkpoints' layouts, from rfbench's own networks.

* EDM persistence pickles: written with rfbench's own pickling of stand-in objects whose reduce
  references ``torch_utils.persistence._reconstruct_persistent_obj`` with the state layout EDM's
  persistence module produces (``_parameters``, ``_buffers``, ``_modules``, hook dicts,
  ``_init_args``/``_init_kwargs``, scalar attributes; torch ``ModuleDict`` containers in between). The
  ``torch_utils`` and ``dnnlib`` modules needed to name those globals exist only while writing, as
  empty stand-ins; their hook refuses to run. No EDM code is involved.
* score_sde / RectifiedFlow ``checkpoint_N.pth`` and rfpp's state dict: plain ``torch.save``.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rfbench.models.nets.precond import EDMPrecondVel

HOOK_DICTS = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
              "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
              "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
              "_load_state_dict_post_hooks")


def _refuse(meta):  # pragma: no cover - only ever referenced by name
    raise RuntimeError("the stand-in persistence hook must never run")


class _EasyDict(dict):
    pass


@contextlib.contextmanager
def edm_globals():
    """Stand-in modules so pickle can name EDM's globals while writing; removed afterwards."""
    persistence = types.ModuleType("torch_utils.persistence")
    _refuse.__module__, _refuse.__qualname__, _refuse.__name__ = ("torch_utils.persistence",
                                                                   "_reconstruct_persistent_obj",
                                                                   "_reconstruct_persistent_obj")
    persistence._reconstruct_persistent_obj = _refuse
    torch_utils = types.ModuleType("torch_utils")
    torch_utils.persistence = persistence
    util = types.ModuleType("dnnlib.util")
    _EasyDict.__module__, _EasyDict.__qualname__, _EasyDict.__name__ = "dnnlib.util", "EasyDict", "EasyDict"
    util.EasyDict = _EasyDict
    dnnlib = types.ModuleType("dnnlib")
    dnnlib.util = util
    added = {"torch_utils": torch_utils, "torch_utils.persistence": persistence, "dnnlib": dnnlib, "dnnlib.util": util}
    clash = [k for k in added if k in sys.modules]
    if clash:
        raise RuntimeError(f"modules {clash} already imported; refusing to shadow them")
    sys.modules.update(added)
    try:
        yield
    finally:
        for k in added:
            sys.modules.pop(k, None)


class Persistent:
    """Pickles as EDM's persistence call with ``meta`` = {type, version, module_src, class_name, state}."""

    def __init__(self, class_name: str, state: dict, module_src: str = "# module source (never executed)\n"):
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name, state=self.state)
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))


def torch_container(cls: type, state: dict) -> nn.Module:
    """A bare ``torch.nn.ModuleDict`` (never initialised) whose ``__dict__`` is ``state``: it pickles as
    a plain class instance (NEWOBJ + BUILD with that state), as in EDM's files."""
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _module_state(module: nn.Module, init_kwargs: dict | None, children: dict) -> dict:
    state: dict = {"training": False,
                   "_parameters": collections.OrderedDict((k, v) for k, v in module._parameters.items()),
                   "_buffers": collections.OrderedDict((k, v) for k, v in module._buffers.items()),
                   "_non_persistent_buffers_set": set(), "_is_full_backward_hook": None}
    state.update({k: collections.OrderedDict() for k in HOOK_DICTS})
    state["_modules"] = children
    for key, value in vars(module).items():
        if key.startswith("_") or key == "training" or isinstance(value, (nn.Module, torch.Tensor)):
            continue
        if isinstance(value, (bool, int, float, str, type(None))):
            # EDM's blocks hold numpy scalars here (np.sqrt(0.5)); keep one of those in the file
            state[key] = np.float64(value) if key == "skip_scale" else value
    state["_init_args"] = ()
    state["_init_kwargs"] = dict(init_kwargs or {})
    return state


def to_records(module: nn.Module, init_kwargs: dict | None = None):
    """EDM-layout records of an rfbench network (top-level constructor arguments in ``init_kwargs``)."""
    children = collections.OrderedDict()
    for name, child in module.named_children():
        children[name] = to_records(child)
    if isinstance(module, nn.ModuleDict):
        return torch_container(nn.ModuleDict, _module_state(module, None, children))
    return Persistent(type(module).__name__, _module_state(module, init_kwargs, children))


def edm_snapshot(net: nn.Module, init_kwargs: dict, *, module_src: str | None = None) -> dict:
    """EDM's ``network-snapshot-*.pkl`` dict: ema, loss_fn, augment_pipe, dataset_kwargs."""
    ema = to_records(net, init_kwargs)
    if module_src is not None:
        ema.module_src = module_src
    loss = Persistent("EDMLoss", {"P_mean": -1.2, "P_std": 1.2, "sigma_data": 0.5, "_init_args": (),
                                  "_init_kwargs": {"opts": _EasyDict(arch="ncsnpp", precond="edm")}})
    augment = Persistent("AugmentPipe", {"p": 0.12, "xflip": 1e8, "_init_args": (), "_init_kwargs": {"p": 0.12}})
    return {"ema": ema, "loss_fn": loss, "augment_pipe": augment,
            "dataset_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "path": "cifar10-32x32.zip"}}


def write_edm_pickle(path: Path, net: nn.Module, init_kwargs: dict, *, protocol: int = 4,
                     module_src: str | None = None, extra: dict | None = None) -> Path:
    with edm_globals():
        data = edm_snapshot(net, init_kwargs, module_src=module_src)
        data.update(extra or {})
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=protocol)
    return path


def adam_state(params: list[torch.Tensor], lr: float) -> dict:
    """What ``torch.optim.Adam(params).state_dict()`` holds after a step (written by hand: building an
    optimiser would import torch's compiler stack, seconds for nothing)."""
    state = {i: {"step": torch.tensor(1.0), "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
             for i, p in enumerate(params[:2])}
    group = {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False, "maximize": False,
             "foreach": None, "capturable": False, "differentiable": False, "fused": None,
             "params": list(range(len(params)))}
    return {"state": state, "param_groups": [group]}


def write_training_state(path: Path, net: nn.Module, ema: nn.Module, init_kwargs: dict, *,
                         extra: dict | None = None) -> Path:
    """PFGM++'s ``training-state-*.pt``: torch.save(dict(optimizer_state, step, ema, net))."""
    with edm_globals():
        data = dict(optimizer_state=adam_state(list(net.parameters()), 1e-3), step=1234, ema=to_records(ema, init_kwargs),
                    net=to_records(net, init_kwargs))
        data.update(extra or {})
        torch.save(data, path)
    return path


def write_score_sde(path: Path, live: nn.Module, ema: nn.Module, *, step: int = 8) -> Path:
    """score_sde / RectifiedFlow ``checkpoint_N.pth``: DataParallel state dict + unnamed EMA list."""
    names = ema.ema_parameter_names()
    params = dict(ema.named_parameters())
    shadow = [params[n].detach().clone() for n in names]
    data = {"optimizer": adam_state([p for p in live.parameters() if p.requires_grad], 2e-4),
            "model": {f"module.{k}": v.clone() for k, v in live.state_dict().items()},
            "ema": {"decay": 0.999999, "num_updates": step, "shadow_params": shadow},
            "step": step}
    torch.save(data, path)
    return path


def write_rfpp(path: Path, net: EDMPrecondVel) -> Path:
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, path)
    return path


class Marker:
    """Pickles as a call that would create ``path`` if anything executed it (``pathlib.Path.touch``)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __reduce__(self):
        return (Path.touch, (self.path,))
