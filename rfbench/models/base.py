"""The model interface every sampler talks to, and the NFE counter.

A :class:`FlowModel` is a probability-flow ODE dx/dt = v(x, t) in rfbench time (t = t_max is the
prior end, t = t_min the data end; sampling runs t downward), together with

* a prior sampler (``sample_prior``) giving x at t_max,
* one native prediction computed by ``forward(x, t)`` (``prediction`` says which: "velocity",
  "x0" or "eps"); ``velocity``, ``x0`` and ``eps`` convert it through
  :mod:`rfbench.models.conversions`, so a sampler asks for what its update rule is written in,
* the path's :class:`~rfbench.models.schedules.Schedule` (alpha, sigma) where the path has the form
  x_t = alpha x0 + sigma n; models without one support only velocity-based samplers.

One call of ``forward`` is one function evaluation (NFE): a batched call counts once. Every
conversion goes through ``self(x, t)``, so :class:`NFECounter`, a forward pre-hook, sees every
evaluation, whatever the sampler's formula claims.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..errors import InvalidInputError, NotApplicableError
from ..identity import CannotFingerprint, config_hash, module_digest
from ..registry import check_name
from . import conversions
from .priors import GaussianPrior, Prior
from .schedules import Schedule


class FlowModel(nn.Module):
    """Base class. Subclasses implement :meth:`forward` and set the attributes below.

    Attributes:
        name: registry name (shown in result tables, part of cache file names): checked when set, with
            the registry's rule (letters, digits and '_.+-'), so no path built from it leaves its folder.
        prediction: what ``forward`` returns: "velocity" (dx/dt), "x0" (data) or "eps" (noise).
        schedule: the path's (alpha, sigma), or None.
        prior: the prior at t_max.
        data_shape: shape of one sample, e.g. (2,) or (1, 8, 8); None if only known from the noise.
        t_max, t_min: integration interval; samplers go from t_max to t_min.
        eval_at_t_min: False where the model cannot be evaluated exactly at t_min (EDM / PFGM++
            denoisers at sigma = 0). Samplers then never evaluate there: the last step into t_min
            is an Euler step, as in EDM, and the reference solver stops at ``t_ref_end`` and
            takes the same final Euler step.
    """

    prediction: str = "velocity"
    # attributes described by config() (or not part of what the model computes): left out of the
    # fingerprint's walk over the model's own attributes
    _IDENTITY_SKIP = frozenset({"schedule", "prior", "data_shape", "t_max", "t_min", "eval_at_t_min", "t_ref_end",
                                "prediction", "meta", "dataset", "fn"})

    @property
    def name(self) -> str:
        return self.__dict__.get("_name", "model")

    @name.setter
    def name(self, value: str) -> None:
        self.__dict__["_name"] = check_name(value, "model")

    def __init__(
        self,
        *,
        schedule: Schedule | None = None,
        prior: Prior | None = None,
        data_shape: tuple[int, ...] | None = None,
        t_max: float = 1.0,
        t_min: float = 0.0,
        eval_at_t_min: bool = True,
        t_ref_end: float | None = None,
    ):
        super().__init__()
        if not 0.0 <= t_min < t_max <= 1.0:
            raise ValueError(f"need 0 <= t_min < t_max <= 1, got t_min={t_min}, t_max={t_max}")
        self.schedule = schedule
        self.prior = prior if prior is not None else GaussianPrior()
        self.data_shape = tuple(data_shape) if data_shape is not None else None
        self.t_max, self.t_min = float(t_max), float(t_min)
        self.eval_at_t_min = bool(eval_at_t_min)
        self.t_ref_end = float(t_ref_end) if t_ref_end is not None else (
            self.t_min if eval_at_t_min else self.t_min + 1e-4 * (self.t_max - self.t_min)
        )

    # -- the one network evaluation -------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """Native prediction at (x, t); x: (batch, *data_shape), t: (batch,) in x's dtype."""
        raise NotImplementedError

    def evaluate(self, x: torch.Tensor, t) -> torch.Tensor:
        """The native prediction at (x, t): one NFE. ``t`` may be a number or a (batch,) tensor."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        return self(x, t)

    _call = evaluate  # the former private name (users' code may still call it)

    def can_evaluate(self, t: float) -> bool:
        """False where the model cannot be evaluated at ``t``: t_min of an EDM / PFGM++ denoiser
        (samplers then end with an Euler step into t_min)."""
        return not (t == self.t_min and not self.eval_at_t_min)

    # -- where and in what precision it computes ------------------------------------------------
    def _floating(self) -> list[torch.Tensor]:
        return [p for p in [*self.parameters(), *self.buffers()] if p.is_floating_point()]

    @property
    def device(self) -> torch.device:
        """The device of its first parameter or buffer (CPU for a parameter-free model)."""
        for p in [*self.parameters(), *self.buffers()]:
            return p.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype of its first floating parameter or buffer; None for a model without any."""
        floating = self._floating()
        return floating[0].dtype if floating else None

    def in_dtype(self, dtype: torch.dtype) -> FlowModel:
        """Itself if every floating parameter and buffer is already in ``dtype``, else a converted
        copy (the original is untouched)."""
        params = list(self.parameters()) + [b for b in self.buffers() if b.is_floating_point()]
        if all(p.dtype == dtype for p in params):
            return self
        return copy.deepcopy(self).to(dtype)

    # -- predictions in the form a sampler needs ------------------------------------------------
    def predict(self, x: torch.Tensor, t, kind: str = "velocity") -> torch.Tensor:
        """One evaluation, returned as ``kind`` ("velocity", "x0" or "eps")."""
        return self.convert(self.evaluate(x, t), kind, x, t)

    def convert(self, out: torch.Tensor, kind: str, x: torch.Tensor, t) -> torch.Tensor:
        """Convert a native output ``out`` at (x, t) to ``kind`` without evaluating the model again
        (for samplers that need two forms of the same evaluation)."""
        if kind == self.prediction:
            return out
        return conversions.convert(out, self.prediction, kind, x, t, self.require_schedule(kind))

    def velocity(self, x: torch.Tensor, t) -> torch.Tensor:
        """dx/dt at (x, t), shape of x."""
        return self.predict(x, t, "velocity")

    def x0(self, x: torch.Tensor, t) -> torch.Tensor:
        """Data prediction E[x0 | x_t = x]."""
        return self.predict(x, t, "x0")

    def eps(self, x: torch.Tensor, t) -> torch.Tensor:
        """Noise prediction E[n | x_t = x]."""
        return self.predict(x, t, "eps")

    def require_schedule(self, what: str = "a schedule") -> Schedule:
        if self.schedule is None:
            raise NotApplicableError(
                f"model {self.name!r} has no (alpha, sigma) schedule, so it cannot provide {what} "
                "predictions; use a velocity-based sampler (euler, heun, ...) or give the model a schedule"
            )
        return self.schedule

    # -- prior and data --------------------------------------------------------------------------
    def sample_prior(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``n`` prior samples at t_max, drawn on the CPU in float64 and then cast and moved.

        ``dtype`` defaults to the model's: that of its first floating parameter or buffer, float64
        for a model without any (a velocity function, whose samples and float64 reference should
        not differ by float32 rounding of the noise).
        """
        if dtype is None:
            floating = (p.dtype for p in [*self.parameters(), *self.buffers()] if p.is_floating_point())
            dtype = next(floating, torch.float64)
        if self.data_shape is None:
            raise InvalidInputError(
                f"model {self.name!r} does not know its data shape; pass `noise=` explicitly "
                "or build it with data_shape=..."
            )
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return self.prior.sample(int(n), self.data_shape, generator).to(device=device, dtype=dtype)

    def sample_data(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Fresh samples of the data distribution the model targets, where known (else None)."""
        return None

    # -- identity --------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything that determines the model's outputs (hashed into cache keys and records)."""
        return {
            "name": self.name,
            "class": type(self).__name__,
            "prediction": self.prediction,
            "schedule": self.schedule.config() if self.schedule is not None else None,
            "prior": self.prior.config(),
            "data_shape": self.data_shape,
            "t_max": self.t_max,
            "t_min": self.t_min,
        }

    def fingerprint(self) -> str | None:
        """A hash (16 hex) of everything that determines the model's outputs, or None where that cannot
        be known (:meth:`cannot_fingerprint` says why; callers then cache nothing for the model).

        It covers ``config()``, every parameter and buffer (name, dtype, shape, bytes), the classes of
        the model and its submodules (a user's class by its code) and their settings, plus
        :meth:`identity_extra` (a wrapped function's code and closure). Computed afresh on each call
        (0.3 s for 55 M float32 parameters on one CPU core); the sweep calls it once per model and
        process, so a model must not be changed in place while a sweep runs.
        """
        try:
            return self._fingerprint()
        except CannotFingerprint:
            return None

    def cannot_fingerprint(self) -> str | None:
        """Why :meth:`fingerprint` is None (one line), or None when the model can be fingerprinted."""
        try:
            self._fingerprint()
        except CannotFingerprint as exc:
            return f"model {self.name!r}: {exc}"
        return None

    def _fingerprint(self) -> str:
        own = type(self).__module__.split(".")[0] != "rfbench"  # a user's subclass: its own settings count
        skip = self._IDENTITY_SKIP if own else frozenset(k for k in vars(self) if not k.startswith("_"))
        return config_hash({"config": self.config(), "content": module_digest(self, skip=skip),
                            "extra": self.identity_extra()})

    def identity_extra(self) -> Any:
        """What determines the outputs besides config(), parameters, buffers and submodules (override:
        raise :class:`~rfbench.identity.CannotFingerprint` where it cannot be known)."""
        return None

    def extra_repr(self) -> str:
        return f"name={self.name!r}, prediction={self.prediction!r}, t=[{self.t_min}, {self.t_max}]"


class NFECounter:
    """Counts forward calls of a module (one batched call = one evaluation).

    >>> with NFECounter(model) as counter:
    ...     x = sampler(model, noise, ts)
    >>> counter.count
    """

    def __init__(self, module: nn.Module):
        self.module = module
        self.count = 0
        self._handle = None

    def _hook(self, module, args):
        self.count += 1

    def __enter__(self) -> NFECounter:
        self._handle = self.module.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
