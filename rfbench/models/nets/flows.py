"""The released networks as :class:`~rfbench.models.base.FlowModel` s in rfbench time (t = 1 noise,
t = 0 data), so every sampler applies.

==================  ===================================  ==========================================  ==========
model               original call and time               rfbench                                      prediction
==================  ===================================  ==========================================  ==========
RectifiedFlow       v_rf = net(x, 999 t_rf), t_rf in     t = 1 - t_rf in [0, 1 - 1e-3], v = -v_rf,     velocity
(``rf``)            [1e-3, 1], noise at t_rf = 0          N(0, I) placed at t_max = 0.999 as the RF
                                                          code does (its t_rf = eps = 1e-3 start)
score_sde VP        eps = net(x, 999 t), VP linear beta   same t in [1e-3, 1], VPLinearSchedule(0.1,    eps
(``vp-eps``)        0.1..20, t in [eps, 1]                20), N(0, I) at t = 1
score_sde VE        score = net(x, sigma) (output         flow path t = sigma/(1+sigma), x_t =          x0
(``ve-score``)      divided by sigma), sigma in           x_sigma/(1+sigma); D = x + sigma^2 score;
                    [0.01, 50]                            prior 50 N(0, I) at t_max = 50/51
EDM / PFGM++        D(x_sigma, sigma) of EDMPrecond,      flow path as above; sigma in                 x0
(``denoiser``)      VPPrecond or VEPrecond                [max(0.002, sigma_min), min(80, sigma_max)]
                                                          of the wrapper; prior: PFGM++'s at 80 for
                                                          its D (D = inf: 80 N(0, I))
2-RF++              v = (x_t - D(x_t/(1-t), t/(1-t)))/t   same t (rfpp's convention is rfbench's),    x0 (= x_t -
(``denoiser``)      t in (0, 1 - 1e-5]                   t_max = 1 - 1e-5, prior (1 - 1e-5) N(0, I)    t v)
==================  ===================================  ==========================================  ==========

EDM-family denoisers (and score_sde VE) cannot be evaluated at sigma = 0: ``eval_at_t_min`` is False
and every sampler's last step into t = 0 is an Euler (denoising) step; the reference solve stops at
sigma_min (0.002 for EDM, PFGM++ and 2-RF++; 0.01 for score_sde VE). VP-precond models are exposed on
the flow path too (their D is defined for every sigma); their own VP time is t_vp(sigma) of the
wrapper.

Class-conditional models (EDM's and PFGM++'s ``cond`` networks, ADM on ImageNet) need one label per
sample: set them for a block of calls with ``model.condition(labels)`` (labels: class indices of shape
(n,) or one-hot rows (n, label_dim)); every evaluation inside checks that the batch has exactly n rows,
so labels cannot drift away from their samples. :func:`draw_labels` draws the label of sample i from
its own seed (seed, i), so a label does not depend on how the samples are batched or sharded (the rule
of EDM's ``generate.py``, one generator per sample seed; EDM draws on the GPU after the latents, so the
values are not EDM's). :func:`rfbench.samplers.conditional.sample_conditional` runs a sampler with
labels kept aligned across batches.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import InvalidInputError
from ..base import FlowModel
from ..conversions import append_dims
from ..priors import GaussianPrior, PFGMPPPrior
from ..schedules import FLOW, VPLinearSchedule, edm_sigma_to_t

RF_EPS = 1e-3  # RectifiedFlow trains and samples t_rf in [eps, 1]
VP_EPS = 1e-3  # score_sde's VP sampling eps
EDM_SIGMA_MIN, EDM_SIGMA_MAX = 0.002, 80.0  # EDM's (and PFGM++'s) sampling range


# -- class labels ----------------------------------------------------------------------------------------


def one_hot(labels: torch.Tensor, label_dim: int, *, what: str = "labels") -> torch.Tensor:
    """Class indices (n,) or one-hot rows (n, label_dim) -> float one-hot rows (n, label_dim)."""
    labels = torch.as_tensor(labels)
    if labels.ndim == 1 and not labels.is_floating_point():
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= label_dim):
            raise InvalidInputError(f"{what} must be class indices in [0, {label_dim}), got values "
                                    f"{int(labels.min())}..{int(labels.max())}")
        return torch.nn.functional.one_hot(labels.long(), label_dim).to(torch.float32)
    if labels.ndim == 2 and labels.shape[1] == label_dim:
        return labels.to(torch.float32)
    raise InvalidInputError(f"{what} must be class indices of shape (n,) or one-hot rows of shape (n, {label_dim}), "
                            f"got shape {tuple(labels.shape)} ({labels.dtype})")


def draw_labels(label_dim: int, n: int | None = None, *, seed: int = 0, indices=None) -> torch.Tensor:
    """Class indices, one per sample, each drawn from a generator seeded by the sample's own seed
    (``seed``, index i) with i in ``indices`` (default 0..n-1): sample i keeps its label whatever the
    batching or sharding. Returns a long tensor of shape (n,)."""
    if indices is None:
        if n is None:
            raise InvalidInputError("draw_labels needs n or indices")
        indices = range(int(n))
    if int(seed) < 0:
        raise InvalidInputError(f"draw_labels: seed must be non-negative, got {seed}")
    out = []
    for i in indices:
        # one generator per sample, seeded by a hash of (seed, index): torch's CPU generator keeps only
        # 32 bits of a seed, so the pair is mixed by numpy's SeedSequence rather than concatenated
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([int(seed), int(i)]).generate_state(1)[0]))
        out.append(int(torch.randint(int(label_dim), (), generator=g)))
    return torch.tensor(out, dtype=torch.long)


class ReleasedFlow(FlowModel):
    """Common part of the wrappers: identity (source file, sha256, preset), class conditioning."""

    def __init__(self, *, name: str, label_dim: int = 0, meta: dict[str, Any] | None = None, **kw):
        super().__init__(**kw)
        self.name = name
        self.label_dim = int(label_dim)
        self.meta = dict(meta or {})
        self._labels: torch.Tensor | None = None

    @contextlib.contextmanager
    def condition(self, labels) -> Iterator[ReleasedFlow]:
        """Within the block, evaluate with these class labels, one per sample of every batch."""
        if not self.label_dim:
            raise InvalidInputError(f"model {self.name!r} is unconditional; it takes no class labels")
        before, self._labels = self._labels, one_hot(labels, self.label_dim, what=f"labels for model {self.name!r}")
        try:
            yield self
        finally:
            self._labels = before

    def class_labels(self, x: torch.Tensor) -> torch.Tensor | None:
        """The one-hot labels for batch ``x`` (None for unconditional models)."""
        if not self.label_dim:
            return None
        if self._labels is None:
            raise InvalidInputError(
                f"model {self.name!r} is class-conditional ({self.label_dim} classes): give one label per sample "
                "with `with model.condition(labels): ...` or rfbench.samplers.conditional.sample_conditional")
        if self._labels.shape[0] != x.shape[0]:
            raise InvalidInputError(
                f"model {self.name!r}: {self._labels.shape[0]} class labels are set but the batch has {x.shape[0]} "
                "samples; set exactly one label per sample of the batch being sampled")
        return self._labels.to(device=x.device, dtype=x.dtype)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "label_dim": self.label_dim, "source": self.meta.get("source"),
                "sha256": self.meta.get("sha256"), "preset": self.meta.get("preset"),
                "weights": self.meta.get("weights")}


class RectifiedFlowVelocity(ReleasedFlow):
    """RectifiedFlow's velocity network (NCSN++ DDPM++) in rfbench time: v(x, t) = -net(x, 999 (1 - t))."""

    prediction = "velocity"

    def __init__(self, net: nn.Module, *, data_shape, name: str = "rectified-flow", eps: float = RF_EPS,
                 time_scale: float = 999.0, meta: dict | None = None):
        super().__init__(name=name, schedule=FLOW, prior=GaussianPrior(), data_shape=data_shape,
                         t_max=1.0 - eps, t_min=0.0, meta=meta)
        # (not ``self.eps``: that is FlowModel's noise prediction)
        self.net, self.t_rf_min, self.time_scale = net, float(eps), float(time_scale)

    def forward(self, x, t):
        return -self.net(x, self.time_scale * (1 - t))

    def config(self):
        return {**super().config(), "t_rf_min": self.t_rf_min, "time_scale": self.time_scale}


class ScoreSDEVP(ReleasedFlow):
    """A score_sde VP noise-prediction network: eps(x, t) = net(x, 999 t) on the VP linear schedule."""

    prediction = "eps"

    def __init__(self, net: nn.Module, *, data_shape, name: str = "score-sde-vp", beta_min: float = 0.1,
                 beta_max: float = 20.0, eps: float = VP_EPS, time_scale: float = 999.0, meta: dict | None = None):
        super().__init__(name=name, schedule=VPLinearSchedule(beta_min, beta_max), prior=GaussianPrior(),
                         data_shape=data_shape, t_max=1.0, t_min=eps, meta=meta)
        self.net, self.time_scale = net, float(time_scale)

    def forward(self, x, t):
        return self.net(x, self.time_scale * t)

    def config(self):
        return {**super().config(), "time_scale": self.time_scale}


class VEScoreDenoiser(nn.Module):
    """score_sde's continuous VE network as a denoiser: D(x, sigma) = x + sigma^2 net(x, sigma)
    (the network is the score; with ``scale_by_sigma`` it divides its output by sigma itself)."""

    def __init__(self, net: nn.Module, sigma_min: float, sigma_max: float):
        super().__init__()
        self.net, self.sigma_min, self.sigma_max = net, float(sigma_min), float(sigma_max)
        self.label_dim = 0

    def forward(self, x, sigma, class_labels=None):
        return x + append_dims(sigma, x) ** 2 * self.net(x, sigma)


class DenoiserFlow(ReleasedFlow):
    """A denoiser D(x_sigma, sigma[, labels]) in rfbench flow time (see the module table):
    forward(x_t, t) = D(x_t / (1 - t), t / (1 - t)), the data prediction."""

    prediction = "x0"

    def __init__(self, net: nn.Module, denoise: Callable, *, data_shape, name: str, sigma_min: float,
                 sigma_max: float, D: float = math.inf, label_dim: int = 0, meta: dict | None = None):
        super().__init__(name=name, schedule=FLOW, prior=PFGMPPPrior(D, sigma_max), data_shape=data_shape,
                         t_max=float(edm_sigma_to_t(sigma_max)), t_min=0.0, eval_at_t_min=False,
                         t_ref_end=float(edm_sigma_to_t(sigma_min)), label_dim=label_dim, meta=meta)
        self.net, self._denoise = net, denoise
        self.D, self.sigma_min, self.sigma_max = float(D), float(sigma_min), float(sigma_max)

    def forward(self, x, t):
        one_minus = append_dims(1 - t, x)
        return self._denoise(x / one_minus, t / (1 - t), self.class_labels(x))

    def config(self):
        return {**super().config(), "D": self.D, "sigma_min": self.sigma_min, "sigma_max": self.sigma_max,
                "precond": type(self.net).__name__}


def denoiser_flow(net: nn.Module, *, data_shape, name: str, meta: dict | None = None,
                  sigma_min: float | None = None, sigma_max: float | None = None) -> DenoiserFlow:
    """Wrap an EDM-family module (EDMPrecond, VPPrecond, VEPrecond, EDMPrecondVel, VEScoreDenoiser) with the
    sampling range and prior of the paper that released it (overridable with ``sigma_min``/``sigma_max``)."""
    from .precond import EDMPrecondVel, denoiser, sigma_range

    lo, hi = sigma_range(net)
    if isinstance(net, EDMPrecondVel):  # rfpp samples from t = 1 - 1e-5 and places its N(0, I) there
        s_max = sigma_max if sigma_max is not None else (1 - 1e-5) / 1e-5
        s_min = sigma_min if sigma_min is not None else EDM_SIGMA_MIN
        D = math.inf
    elif isinstance(net, VEScoreDenoiser):
        s_max = sigma_max if sigma_max is not None else hi
        s_min = sigma_min if sigma_min is not None else lo
        D = math.inf
    else:
        s_max = sigma_max if sigma_max is not None else min(EDM_SIGMA_MAX, hi)
        s_min = sigma_min if sigma_min is not None else max(EDM_SIGMA_MIN, lo)
        D = float(net.D) if getattr(net, "pfgmpp", False) else math.inf
    if not 0 < s_min < s_max:
        raise InvalidInputError(f"model {name!r}: need 0 < sigma_min < sigma_max, got {s_min}, {s_max}")
    return DenoiserFlow(net, denoiser(net), data_shape=data_shape, name=name, sigma_min=s_min, sigma_max=s_max, D=D,
                        label_dim=int(getattr(net, "label_dim", 0)), meta=meta)
