"""EDM's preconditioning wrappers (and 2-RF++'s velocity wrapper) around SongUNet / DhariwalUNet.

Each wrapper owns the raw network as ``self.model`` (so state-dict keys carry EDM's ``model.`` prefix)
and computes the denoiser D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) of Karras et al. 2022
(table 1), x = y + sigma n in EDM's VE convention:

=============  ==========================  ============  =====================  ================================
wrapper        c_skip                      c_out         c_in                   c_noise
=============  ==========================  ============  =====================  ================================
EDMPrecond     sd^2 / (sigma^2 + sd^2)     sigma sd / s  1 / s, s^2 =           ln(sigma) / 4
                                                         sigma^2 + sd^2
VPPrecond      1                           -sigma        1/sqrt(sigma^2 + 1)    (M - 1) t(sigma), t the inverse of
                                                                                sigma(t) = sqrt(e^(b_d t^2/2 + b_min t) - 1)
VEPrecond      1                           sigma         1                      ln(sigma / 2)
=============  ==========================  ============  =====================  ================================

PFGM++ uses EDMPrecond unchanged (its constructors also record ``pfgmpp`` and ``D``; the denoiser does
not depend on D, only the prior and the training kernel do). 2-RF++'s ``EDMPrecondVel`` is EDMPrecond
queried in flow time: x_sigma = x_t / (1 - t), sigma = t / (1 - t), zero augmentation labels, and
v = (x_t - D) / t.

Class labels: one-hot rows (batch, label_dim); like EDM, a class-conditional wrapper given no labels
uses the all-zero label (the FlowModel wrappers in :mod:`rfbench.models.nets.flows` refuse that).
``use_fp16`` is recorded but ignored: rfbench evaluates in the dtype of the input.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .dhariwal_unet import DhariwalUNet
from .song_unet import SongUNet

RAW_NETWORKS = {"SongUNet": SongUNet, "DhariwalUNet": DhariwalUNet}


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))


class _Precond(nn.Module):
    """Common construction: EDM's interface arguments plus the raw network's own."""

    def __init__(self, img_resolution: int, img_channels: int, label_dim: int = 0, use_fp16: bool = False,
                 model_type: str = "SongUNet", out_channels: int | None = None, **model_kwargs):
        super().__init__()
        if model_type not in RAW_NETWORKS:
            raise ValueError(f"unknown model_type {model_type!r}; rfbench has {', '.join(RAW_NETWORKS)}")
        self.img_resolution, self.img_channels, self.label_dim = img_resolution, img_channels, label_dim
        self.use_fp16, self.model_type = use_fp16, model_type
        self.model = RAW_NETWORKS[model_type](img_resolution=img_resolution, in_channels=img_channels,
                                              out_channels=out_channels or img_channels, label_dim=label_dim,
                                              **model_kwargs)

    @property
    def augment_dim(self) -> int:
        return int(self.model.config.get("augment_dim", 0))

    def _labels(self, x: torch.Tensor, class_labels):
        if not self.label_dim:
            return None
        if class_labels is None:
            return torch.zeros([1, self.label_dim], device=x.device, dtype=x.dtype)
        return class_labels.to(x.dtype).reshape(-1, self.label_dim)

    def raw(self, x, c_noise, class_labels=None, augment_labels=None):
        """The raw network F at (x, c_noise)."""
        return self.model(x, c_noise, class_labels=self._labels(x, class_labels), augment_labels=augment_labels)


class EDMPrecond(_Precond):
    """EDM's preconditioning (also PFGM++'s). ``sigma_min``/``sigma_max``: the supported range."""

    def __init__(self, img_resolution: int, img_channels: int, label_dim: int = 0, use_fp16: bool = False,
                 sigma_min: float = 0, sigma_max: float = float("inf"), sigma_data: float = 0.5,
                 model_type: str = "DhariwalUNet", pfgmpp: bool = False, D: float = 128, **model_kwargs):
        super().__init__(img_resolution, img_channels, label_dim, use_fp16, model_type, **model_kwargs)
        self.sigma_min, self.sigma_max, self.sigma_data = float(sigma_min), float(sigma_max), float(sigma_data)
        self.pfgmpp, self.D = bool(pfgmpp), D
        self.N = img_channels * img_resolution * img_resolution

    def forward(self, x, sigma, class_labels=None, augment_labels=None):
        sd, s = self.sigma_data, _bcast(sigma, x)
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (sd**2 + s**2).sqrt()
        c_noise = (s.log() / 4).flatten()
        return c_skip * x + c_out * self.raw(c_in * x, c_noise, class_labels, augment_labels)


class VPPrecond(_Precond):
    """Preconditioning of score_sde's VP formulation (linear beta from ``beta_min``, slope ``beta_d``)."""

    def __init__(self, img_resolution: int, img_channels: int, label_dim: int = 0, use_fp16: bool = False,
                 beta_d: float = 19.9, beta_min: float = 0.1, M: int = 1000, epsilon_t: float = 1e-5,
                 model_type: str = "SongUNet", pfgmpp: bool = False, D: float = 128, **model_kwargs):
        super().__init__(img_resolution, img_channels, label_dim, use_fp16, model_type, **model_kwargs)
        self.pfgmpp, self.D = bool(pfgmpp), D
        self.beta_d, self.beta_min, self.M, self.epsilon_t = float(beta_d), float(beta_min), int(M), float(epsilon_t)
        self.sigma_min = float(self.sigma(epsilon_t))
        self.sigma_max = float(self.sigma(1))

    def sigma(self, t):
        # a Python float becomes a float32 CPU tensor, as in EDM (its sigma_min carries that rounding)
        t = t if isinstance(t, torch.Tensor) else torch.tensor(t, dtype=torch.float32, device="cpu")
        return ((0.5 * self.beta_d * t**2 + self.beta_min * t).exp() - 1).sqrt()

    def sigma_inv(self, sigma):
        sigma = torch.as_tensor(sigma)
        return ((self.beta_min**2 + 2 * self.beta_d * (1 + sigma**2).log()).sqrt() - self.beta_min) / self.beta_d

    def forward(self, x, sigma, class_labels=None, augment_labels=None):
        s = _bcast(sigma, x)
        c_in = 1 / (s**2 + 1).sqrt()
        c_noise = ((self.M - 1) * self.sigma_inv(s)).flatten()
        return x - s * self.raw(c_in * x, c_noise, class_labels, augment_labels)


class VEPrecond(_Precond):
    """Preconditioning of score_sde's VE formulation."""

    def __init__(self, img_resolution: int, img_channels: int, label_dim: int = 0, use_fp16: bool = False,
                 sigma_min: float = 0.02, sigma_max: float = 100, model_type: str = "SongUNet", pfgmpp: bool = False,
                 D: float = 128, **model_kwargs):
        super().__init__(img_resolution, img_channels, label_dim, use_fp16, model_type, **model_kwargs)
        self.pfgmpp, self.D = bool(pfgmpp), D
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)

    def forward(self, x, sigma, class_labels=None, augment_labels=None):
        s = _bcast(sigma, x)
        return x + s * self.raw(x, (0.5 * s).log().flatten(), class_labels, augment_labels)


class EDMPrecondVel(nn.Module):
    """2-RF++'s wrapper (sangyun884/rfpp): EDM preconditioning queried in flow time, returning the
    velocity v = (x_t - D(x_t / (1 - t), t / (1 - t))) / t with zero augmentation labels.

    Built from rfpp's network config (``unet_type`` "songunet" or "adm" plus the network's own
    arguments, as in its ``configs_unet/*.json``); ``denoise`` exposes D in EDM's sigma convention.
    """

    def __init__(self, unet_type: str = "songunet", use_fp16: bool = False, sigma_data: float = 0.5,
                 sigma_min: float = 0, sigma_max: float = float("inf"), **model_kwargs):
        super().__init__()
        kinds = {"songunet": SongUNet, "adm": DhariwalUNet}
        if unet_type not in kinds:
            raise ValueError(f"unknown unet_type {unet_type!r}; expected one of {', '.join(kinds)}")
        self.unet_type, self.use_fp16, self.sigma_data = unet_type, use_fp16, float(sigma_data)
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self.model = kinds[unet_type](**model_kwargs)
        self.img_resolution = self.model.config["img_resolution"]
        self.img_channels = self.model.config["in_channels"]
        self.label_dim = self.model.config["label_dim"]
        self.augment_dim = self.model.config["augment_dim"]

    def denoise(self, x, sigma, class_labels=None):
        sd, s = self.sigma_data, _bcast(sigma, x)
        labels = None
        if self.label_dim:
            labels = (torch.zeros([1, self.label_dim], device=x.device, dtype=x.dtype) if class_labels is None
                      else class_labels.to(x.dtype).reshape(-1, self.label_dim))
        aug = torch.zeros([x.shape[0], self.augment_dim], device=x.device, dtype=x.dtype) if self.augment_dim else None
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (sd**2 + s**2).sqrt()
        f = self.model(c_in * x, (s.log() / 4).flatten(), class_labels=labels, augment_labels=aug)
        return c_skip * x + c_out * f

    def forward(self, x_t, t, class_labels=None):
        tt = _bcast(t, x_t)
        return (x_t - self.denoise(x_t / (1 - tt), (t / (1 - t)), class_labels)) / tt


PRECONDS = {"EDMPrecond": EDMPrecond, "VPPrecond": VPPrecond, "VEPrecond": VEPrecond}


def denoiser(module: nn.Module):
    """D(x_sigma, sigma, class_labels) of any wrapper above, in EDM's sigma convention."""
    if isinstance(module, EDMPrecondVel):
        return module.denoise
    return lambda x, sigma, class_labels=None: module(x, sigma, class_labels)


def sigma_range(module: nn.Module) -> tuple[float, float]:
    """(sigma_min, sigma_max) the wrapper supports; infinite where it states none."""
    return float(getattr(module, "sigma_min", 0.0)), float(getattr(module, "sigma_max", math.inf))
