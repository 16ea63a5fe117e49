"""The one place where velocity, data prediction and noise prediction are converted into each other.

On a path x = alpha(t) x0 + sigma(t) n (see :mod:`rfbench.models.schedules`), the probability-flow
velocity is the posterior mean of the conditional velocity,

    v(x, t) = alpha'(t) E[x0 | x] + sigma'(t) E[n | x],

and E[x0 | x], E[n | x] are tied by x = alpha E[x0 | x] + sigma E[n | x]. Given any one of the three
predictions the other two follow:

    from x0:  n = (x - alpha x0) / sigma                 v = alpha' x0 + sigma' n
    from n:   x0 = (x - sigma n) / alpha                 v = alpha' x0 + sigma' n
    from v:   x0 = (sigma' x - sigma v) / det            n = (alpha v - alpha' x) / det,
              det = sigma' alpha - sigma alpha'

On the flow path (alpha = 1 - t, sigma = t) these reduce to x0 = x - t v, n = x + (1 - t) v.

Pitfall (README, "Time convention"): a flow velocity is *not* the diffusion "v-prediction"
alpha n - sigma x0 of DPM-Solver's ``model_type="v"`` or diffusers' ``v_prediction``.

All functions take ``x`` of shape (batch, ...) and ``t`` as a float or a tensor of shape (batch,)
or (); the result has the shape of ``x``.
"""

from __future__ import annotations

import functools

import torch

from .schedules import Schedule

KINDS = ("velocity", "x0", "eps")


def append_dims(v: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or a (batch,) tensor against ``x`` of shape (batch, ...), in x's dtype."""
    v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
    if v.ndim == 0:
        return v
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


@functools.lru_cache(maxsize=4096)
def _scalar_coeffs(schedule: Schedule, t: float) -> tuple[float, float, float, float]:
    tt = torch.tensor(t, dtype=torch.float64)
    return tuple(float(f(tt)) for f in (schedule.alpha, schedule.sigma, schedule.d_alpha, schedule.d_sigma))


def _coeffs(schedule: Schedule, t, x):
    if isinstance(t, (float, int)):
        # a sampler's grid time: memoised Python floats (float64), no per-step tensor creation
        return _scalar_coeffs(schedule, float(t))
    t = torch.as_tensor(t, dtype=torch.float64)
    vals = (schedule.alpha(t), schedule.sigma(t), schedule.d_alpha(t), schedule.d_sigma(t))
    return tuple(append_dims(v, x) for v in vals)


def convert(out: torch.Tensor, kind: str, to: str, x: torch.Tensor, t, schedule: Schedule) -> torch.Tensor:
    """Convert a prediction ``out`` of kind ``kind`` at (x, t) into kind ``to``."""
    if kind not in KINDS or to not in KINDS:
        raise ValueError(f"prediction kinds must be among {KINDS}, got {kind!r} -> {to!r}")
    if kind == to:
        return out
    a, s, da, ds = _coeffs(schedule, t, x)
    if kind == "velocity":
        det = ds * a - s * da
        if to == "x0":
            return (ds * x - s * out) / det
        return (a * out - da * x) / det
    if kind == "x0":
        x0 = out
        n = (x - a * x0) / s
    else:  # eps
        n = out
        x0 = (x - s * n) / a
    if to == "velocity":
        return da * x0 + ds * n
    return x0 if to == "x0" else n


def x0_from_velocity(v, x, t, schedule):
    return convert(v, "velocity", "x0", x, t, schedule)


def eps_from_velocity(v, x, t, schedule):
    return convert(v, "velocity", "eps", x, t, schedule)


def eps_from_diffusion_v(v: torch.Tensor, x: torch.Tensor, t, schedule: Schedule) -> torch.Tensor:
    """Noise prediction from a diffusion "v-prediction" v = alpha n - sigma x0 (Salimans & Ho 2022;
    diffusers' ``prediction_type="v_prediction"``), which is NOT the flow velocity:
    n = (alpha v + sigma x) / (alpha^2 + sigma^2) (= alpha v + sigma x on a VP path)."""
    a, s, _, _ = _coeffs(schedule, t, x)
    return (a * v + s * x) / (a * a + s * s)
