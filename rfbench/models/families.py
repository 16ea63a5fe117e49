"""How a trained network becomes a :class:`FlowModel`: the three parameterisations of the catalogue.

* ``"flow"`` (rectified flow, reflow, 2-RF++, distillation): ``net(x, t)`` is the velocity on the
  flow path x_t = (1 - t) x0 + t n, Gaussian prior, t in [0, 1].
* ``"vp-eps"`` (DDPM-style diffusion, Rectified Diffusion): ``net(x, t)`` predicts eps on a VP
  schedule (default: linear beta 0.1 .. 20, score_sde / DPM-Solver's continuous VP), t in [1e-3, 1]
  (the VP path is singular at t = 0), Gaussian prior at t = 1 (alpha(1) = 0.0066, ignored as in DDPM).
* ``"edm"`` (PFGM++ with any D, EDM for D = inf): ``net`` is EDM's raw network F; the model is the
  preconditioned denoiser D(x_sigma, sigma) exposed in rfbench flow time as AnalyticPFGMPP is:
  t = sigma / (1 + sigma), x_t = x_sigma / (1 + sigma), prediction "x0", prior PFGM++'s at
  sigma_max (t_max = 80/81), never evaluated at t = 0 (the reference stops at sigma_min = 0.002 and
  takes EDM's final Euler step).

``model_config`` (stored in checkpoints) says which, with the options: {"param", "data_shape",
"dataset", "schedule", "t_min", "D", "sigma_data", "sigma_max", "sigma_min"}.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..data import DATASETS, get_dataset
from ..errors import CheckpointError
from .base import FlowModel
from .conversions import append_dims
from .priors import GaussianPrior, PFGMPPPrior
from .schedules import FLOW, VPLinearSchedule, edm_sigma_to_t, schedule_from_config

PARAMS = ("flow", "vp-eps", "edm")
# what users may call them (register_checkpoint(family=...))
PARAM_ALIASES = {"flow": "flow", "rectified-flow": "flow", "rf": "flow", "reflow": "flow",
                 "vp-eps": "vp-eps", "diffusion": "vp-eps", "vp-diffusion": "vp-eps", "ddpm": "vp-eps",
                 "rectified-diffusion": "vp-eps", "edm": "edm", "pfgmpp": "edm", "pfgm++": "edm"}

VP_T_MIN = 1e-3


class NetworkFlow(FlowModel):
    """A network ``net(x, t)`` returning the model's native prediction, as a FlowModel.

    Rectified flow (Liu, Gong & Liu 2022, arXiv 2209.03003) in rfbench time: x_t = (1 - t) x0 + t n,
    ``net`` is the velocity n - x0 (the RF paper's x1 - x0 with time reversed), trained on all of
    [0, 1], so samplers may evaluate it at both ends (the RF code's eps = 1e-3 offset is not needed).
    """

    def __init__(self, net: nn.Module, *, name: str, prediction: str = "velocity", dataset: str | None = None,
                 meta: dict[str, Any] | None = None, **kw):
        kw.setdefault("schedule", FLOW)
        kw.setdefault("prior", GaussianPrior())
        super().__init__(**kw)
        self.net, self.name, self.prediction, self.dataset = net, name, prediction, dataset
        self.meta = dict(meta or {})

    def forward(self, x, t):
        return self.net(x, t)

    def sample_data(self, n, *, generator=None):
        if self.dataset is None or self.dataset not in DATASETS:
            return None
        return get_dataset(self.dataset).sample(n, generator=generator)

    def config(self):
        return {**super().config(), "dataset": self.dataset, "checkpoint": self.meta.get("config_hash")}


def edm_denoise(net: nn.Module, x: torch.Tensor, sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """EDM's preconditioned denoiser D(x, sigma) = c_skip x + c_out F(c_in x, ln(sigma) / 4), with
    c_skip = sd^2 / (sigma^2 + sd^2), c_out = sigma sd / sqrt(sigma^2 + sd^2), c_in = 1 / sqrt(sigma^2 + sd^2).
    PFGM++ uses it unchanged in sigma = r / sqrt(D). x: (batch, ...), sigma: (batch,)."""
    sd = sigma_data
    s = append_dims(sigma, x)
    c_skip = sd**2 / (s**2 + sd**2)
    c_out = s * sd / torch.sqrt(s**2 + sd**2)
    c_in = 1 / torch.sqrt(s**2 + sd**2)
    return c_skip * x + c_out * net(c_in * x, torch.log(sigma) / 4)



class EDMFlow(NetworkFlow):
    """A PFGM++ / EDM denoiser network in rfbench flow time.

    forward(x_t, t): sigma = t / (1 - t), x_sigma = x_t / (1 - t), returns D(x_sigma, sigma) (the data
    prediction; the flow-time velocity is (x_t - D) / t). D = inf is EDM (Gaussian prior sigma_max N(0, I)).
    """

    prediction = "x0"

    def __init__(self, net: nn.Module, *, D: float, sigma_data: float, data_shape: tuple[int, ...], name: str,
                 sigma_max: float = 80.0, sigma_min: float = 0.002, dataset: str | None = None,
                 meta: dict[str, Any] | None = None):
        super().__init__(net, name=name, prediction="x0", dataset=dataset, meta=meta, schedule=FLOW,
                         prior=PFGMPPPrior(D, sigma_max), data_shape=data_shape,
                         t_max=float(edm_sigma_to_t(sigma_max)), t_min=0.0, eval_at_t_min=False,
                         t_ref_end=float(edm_sigma_to_t(sigma_min)))
        self.D, self.sigma_data, self.sigma_max, self.sigma_min = float(D), float(sigma_data), float(sigma_max), float(sigma_min)

    def forward(self, x, t):
        one_minus = append_dims(1 - t, x)
        return edm_denoise(self.net, x / one_minus, t / (1 - t), self.sigma_data)

    def config(self):
        return {**FlowModel.config(self), "D": self.D, "sigma_data": self.sigma_data, "sigma_min": self.sigma_min,
                "dataset": self.dataset, "checkpoint": self.meta.get("config_hash")}


def default_model_config(param: str, data_shape: tuple[int, ...], dataset: str | None = None, **options) -> dict:
    """A complete ``model_config`` for ``param`` with rfbench's defaults, overridden by ``options``."""
    cfg: dict[str, Any] = {"param": param, "data_shape": list(data_shape), "dataset": dataset}
    if param == "vp-eps":
        cfg.update(schedule=VPLinearSchedule().config(), t_min=VP_T_MIN)
    elif param == "edm":
        cfg.update(D=math.inf, sigma_data=0.5, sigma_max=80.0, sigma_min=0.002)
    elif param != "flow":
        raise ValueError(f"unknown parameterisation {param!r}; expected one of {PARAMS}")
    unknown = set(options) - set(cfg)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for parameterisation {param!r}")
    cfg.update(options)
    return cfg


def wrap_network(net: nn.Module, model_config: dict, *, name: str, meta: dict | None = None,
                 source: str = "model config") -> FlowModel:
    """The FlowModel of ``net`` under ``model_config`` (see the module docstring)."""
    cfg = dict(model_config)
    param = cfg.get("param")
    try:
        shape = tuple(int(s) for s in cfg["data_shape"])
        if param == "flow":
            return NetworkFlow(net, name=name, dataset=cfg.get("dataset"), data_shape=shape, meta=meta)
        if param == "vp-eps":
            return NetworkFlow(net, name=name, prediction="eps", schedule=schedule_from_config(cfg["schedule"]),
                               t_min=float(cfg["t_min"]), dataset=cfg.get("dataset"), data_shape=shape, meta=meta)
        if param == "edm":
            return EDMFlow(net, D=float(cfg["D"]), sigma_data=float(cfg["sigma_data"]), sigma_max=float(cfg["sigma_max"]),
                           sigma_min=float(cfg["sigma_min"]), data_shape=shape, name=name, dataset=cfg.get("dataset"),
                           meta=meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: invalid model config for parameterisation {param!r} "
                              f"({type(exc).__name__}: {exc})") from None
    raise CheckpointError(f"{source}: unknown parameterisation {param!r}; expected one of {', '.join(PARAMS)}")


def model_from_checkpoint(ckpt: dict, path, *, name: str | None = None, meta: dict | None = None) -> FlowModel:
    """Build the network named in ``ckpt``, load its weights (every mismatch is reported with the file)
    and wrap it. Checkpoints without a ``model_config`` are 1-RF velocity MLPs (rfbench's first format)."""
    from .formats.rfbench import load_state
    from .nets import build_network

    net = build_network(ckpt.get("net", "MLP"), ckpt["net_config"], source=f"checkpoint file {path}")
    load_state(net, ckpt["state_dict"], path)
    model_config = ckpt.get("model_config") or {"param": "flow", "data_shape": [ckpt["net_config"]["dim"]]}
    return wrap_network(net.eval(), model_config, name=name or ckpt["model"], meta=meta,
                        source=f"checkpoint file {path}")
