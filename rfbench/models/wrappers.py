"""Wrap a user's own velocity field as a :class:`~rfbench.models.base.FlowModel`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import InvalidInputError
from ..identity import function_digest
from .base import FlowModel
from .priors import GaussianPrior, Prior
from .schedules import FLOW, Schedule

CONVENTIONS = ("rf", "rfbench")


class VelocityFunctionModel(FlowModel):
    """A velocity function ``fn(x, t)`` as a model; see :func:`from_velocity`."""

    prediction = "velocity"

    def __init__(self, fn: Callable, *, convention: str, name: str, **kw):
        super().__init__(**kw)
        if convention not in CONVENTIONS:
            raise InvalidInputError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        # an nn.Module fn is registered as a submodule, so .to(device) and .double() reach it
        self.fn, self.convention, self.name = fn, convention, name

    def forward(self, x, t):
        if self.convention == "rf":
            return -self.fn(x, 1 - t)
        return self.fn(x, t)

    def config(self):
        return {**super().config(), "convention": self.convention, "fn": getattr(self.fn, "__qualname__", type(self.fn).__name__)}

    def identity_extra(self):
        # an nn.Module fn is a submodule, covered by the fingerprint's walk; a function by its code,
        # defaults, closure and globals (CannotFingerprint where one of them is opaque)
        return None if isinstance(self.fn, nn.Module) else function_digest(self.fn)


def from_velocity(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    data_shape: tuple[int, ...] | None = None,
    *,
    convention: str = "rf",
    prior: Prior | None = None,
    schedule: Schedule | None = FLOW,
    name: str = "user-velocity",
    t_min: float = 0.0,
    t_max: float = 1.0,
) -> VelocityFunctionModel:
    """Wrap your own velocity field so every rfbench sampler and metric can run on it.

    Args:
        fn: ``fn(x, t) -> v`` with x of shape (batch, ...) and t a tensor of shape (batch,).
            With ``convention="rf"`` (default) it follows the rectified-flow paper: t = 0 noise,
            t = 1 data, dx/dt = v (v ~ x1 - x0). rfbench integrates in its own time
            t_rb = 1 - t, so it evaluates ``-fn(x, 1 - t_rb)``. Use ``convention="rfbench"`` for a
            field already in rfbench time (t = 1 noise; diffusers / FLUX / rfpp flows).
        data_shape: shape of one sample; needed only to draw prior noise (``rfbench.sample(n=...)``).
        prior: prior at the noise end; standard Gaussian by default.
        schedule: path of the field; the linear flow path (alpha = 1 - t, sigma = t in rfbench
            time) by default, which is what a rectified-flow velocity implies. Pass ``None`` for a
            field that is not a linear-interpolation flow; DPM-Solver then refuses it.
        name: the model's name in tables and cache file names: letters, digits and '_.+-'.

    Caches (reference solutions, BOSS calibrations, FlowTurbo refiners, cell records) are keyed by the
    model's :meth:`~rfbench.models.base.FlowModel.fingerprint`: for a function, its code, defaults,
    closure and the globals it reads (tensors and networks by their values); for an ``nn.Module``, its
    weights. A function holding something that cannot be hashed (say, a library object with hidden
    state) is computed every time and never cached (``not cached: <reason>`` in a sweep's notes).

    Example:
        >>> model = rfbench.models.from_velocity(lambda x, t: -x, data_shape=(2,))
        >>> out = rfbench.sample(model, "heun", nfe=8, n=16)
    """
    return VelocityFunctionModel(
        fn, convention=convention, name=name, schedule=schedule,
        prior=prior if prior is not None else GaussianPrior(), data_shape=data_shape,
        t_min=t_min, t_max=t_max,
    )
