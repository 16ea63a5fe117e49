"""Time grids: decreasing float64 tensors of n_steps + 1 times from ``model.t_max`` to ``model.t_min``.

Grids are separate from the samplers that walk them, and registered by name (``GRIDS``).
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError
from ..models.base import FlowModel
from ..registry import Registry

GRIDS: Registry = Registry("grid")


def register_grid(name: str):
    def deco(fn):
        GRIDS.register(name, fn)
        return fn
    return deco


def make_grid(name: str, n_steps: int, model: FlowModel, **options) -> torch.Tensor:
    """The grid ``name`` with ``n_steps`` steps for ``model``; checked to be strictly decreasing."""
    ts = GRIDS.get(name)(int(n_steps), model, **options)
    ts = torch.as_tensor(ts, dtype=torch.float64)
    if ts.ndim != 1 or len(ts) != n_steps + 1 or not bool((ts[1:] < ts[:-1]).all()):
        raise AssertionError(f"grid {name!r} returned an invalid grid {ts.tolist()}")
    return ts


@register_grid("uniform")
def grid_uniform(n_steps: int, model: FlowModel) -> torch.Tensor:
    """Uniform in t: t_i = t_max - (i / n)(t_max - t_min)."""
    return torch.linspace(model.t_max, model.t_min, n_steps + 1, dtype=torch.float64)


@register_grid("karras")
def grid_karras(n_steps: int, model: FlowModel, rho: float = 7.0, sigma_min: float = 0.002,
                sigma_max: float = 80.0) -> torch.Tensor:
    """EDM's rho-schedule (Karras et al. 2022, eq. 5) in the noise-to-signal ratio s = sigma/alpha.

    s_i = (s_hi^(1/rho) + i/(m-1) (s_lo^(1/rho) - s_hi^(1/rho)))^rho, mapped back to t through the
    model's schedule. s_hi = s(t_max), capped at ``sigma_max`` where s(t_max) is infinite (the flow
    path at t = 1: the grid then starts at t_max itself); s_lo = max(s(t_min), sigma_min). When
    s(t_min) < sigma_min (the flow path ends at s = 0), the grid ends ..., s_lo, t_min: EDM's final
    step to sigma = 0.
    """
    sched = model.require_schedule("a Karras (sigma/alpha) grid")
    t_hi = torch.tensor(model.t_max, dtype=torch.float64)
    t_lo = torch.tensor(model.t_min, dtype=torch.float64)
    s_of = lambda t: torch.exp(-sched.log_snr(t))  # noqa: E731
    s_hi = s_of(t_hi)
    s_hi = s_hi if torch.isfinite(s_hi) else torch.tensor(sigma_max, dtype=torch.float64)
    s_lo_model = s_of(t_lo) if model.t_min > 0 else torch.tensor(0.0, dtype=torch.float64)
    append_end = bool(s_lo_model < sigma_min)
    s_lo = torch.tensor(sigma_min, dtype=torch.float64) if append_end else s_lo_model
    m = n_steps if append_end else n_steps + 1
    if m < 2:  # one step: straight from t_max to t_min
        return torch.tensor([model.t_max, model.t_min], dtype=torch.float64)
    i = torch.arange(m, dtype=torch.float64) / (m - 1)
    s = (s_hi ** (1 / rho) + i * (s_lo ** (1 / rho) - s_hi ** (1 / rho))) ** rho
    ts = sched.t_of_log_snr(-torch.log(s))
    ts[0] = model.t_max
    if append_end:
        ts = torch.cat([ts, t_lo[None]])
    else:
        ts[-1] = model.t_min
    if not bool((ts[1:] < ts[:-1]).all()):
        raise InvalidInputError(f"karras grid with {n_steps} steps is not decreasing for model {model.name!r}")
    return ts
