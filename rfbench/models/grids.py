"""Time grids: decreasing float64 tensors of n_steps + 1 times from ``model.t_max`` to ``model.t_min``.

Grids are separate from the samplers that walk them, and registered by name (``GRIDS``); they live
with the models so that training (BOSS, FlowTurbo) can use them; ``rfbench.samplers`` re-exports them.
"""

from __future__ import annotations

import torch

import math

from ..errors import InvalidInputError
from .base import FlowModel
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
def grid_karras(n_steps: int, model: FlowModel, rho: float = 7.0, sigma_min: float | None = None,
                sigma_max: float = 80.0) -> torch.Tensor:
    """EDM's rho-schedule (Karras et al. 2022, eq. 5) in the noise-to-signal ratio s = sigma/alpha.

    s_i = (s_hi^(1/rho) + i/(m-1) (s_lo^(1/rho) - s_hi^(1/rho)))^rho, mapped back to t through the
    model's schedule. s_hi = s(t_max), capped at ``sigma_max`` where s(t_max) is infinite (the flow
    path at t = 1: the grid then starts at t_max itself); s_lo = max(s(t_min), sigma_min). When
    s(t_min) < sigma_min (the flow path ends at s = 0), the grid ends ..., s_lo, t_min: EDM's final
    step to sigma = 0.

    ``sigma_min`` defaults to the model's last evaluable noise level where it cannot be evaluated at
    t_min: s(t_ref_end), where the reference solution stops and takes the same final Euler step (EDM's
    0.002 for the trained EDM / PFGM++ models, 1e-4 for the analytic PFGM++ oracles), so the grid's
    last step and the reference's coincide and the sampler converges to the reference itself; else
    EDM's published 0.002.
    """
    sched = model.require_schedule("a Karras (sigma/alpha) grid")
    t_hi = torch.tensor(model.t_max, dtype=torch.float64)
    t_lo = torch.tensor(model.t_min, dtype=torch.float64)
    s_of = lambda t: torch.exp(-sched.log_snr(t))  # noqa: E731
    at_ref_end = sigma_min is None and not model.eval_at_t_min
    if sigma_min is None:
        sigma_min = float(s_of(torch.tensor(model.t_ref_end, dtype=torch.float64))) if at_ref_end else 0.002
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
        if at_ref_end:
            ts[-1] = model.t_ref_end  # exactly, not through s and back
        ts = torch.cat([ts, t_lo[None]])
    else:
        ts[-1] = model.t_min
    if not bool((ts[1:] < ts[:-1]).all()):
        raise InvalidInputError(f"karras grid with {n_steps} steps is not decreasing for model {model.name!r}")
    return ts


@register_grid("time-quadratic")
def grid_time_quadratic(n_steps: int, model: FlowModel) -> torch.Tensor:
    """Uniform in sqrt(t): DPM-Solver's ``time_quadratic`` (DDIM's grid for low-resolution data).

    t_i = (sqrt(t_max) + (i / n)(sqrt(t_min) - sqrt(t_max)))^2.
    """
    root = torch.linspace(model.t_max ** 0.5, model.t_min ** 0.5, n_steps + 1, dtype=torch.float64)
    ts = root**2
    ts[0], ts[-1] = model.t_max, model.t_min
    return ts


@register_grid("logsnr")
def grid_logsnr(n_steps: int, model: FlowModel, groups: list[int] | None = None) -> torch.Tensor:
    """Uniform in the half log-SNR lambda = log(alpha / sigma) (DPM-Solver's ``logSNR`` skip type).

    The grid runs from t_max to t_min. Where lambda is infinite at an end (the flow path:
    lambda(1) = -inf, lambda(0) = +inf) no lambda-uniform grid reaches it: that end keeps one step of
    the time-uniform size dt = (t_max - t_min) / n_steps, and the lambda-uniform part spans
    [lambda(t_max - dt), lambda(t_min + dt)] (so it widens as n_steps grows and the grid still
    covers the whole interval). DPM-Solver takes such end steps as first-order steps.

    ``groups`` (sizes summing to n_steps) reproduces DPM-Solver's singlestep "fast" grid: one
    lambda-uniform outer interval per group, each split uniformly in lambda into ``size`` parts
    (r1 = 1/2, or r1, r2 = 1/3, 2/3). Groups at an infinite end must have size 1.
    """
    sched = model.require_schedule("a log-SNR grid")
    groups = [1] * n_steps if groups is None else [int(g) for g in groups]
    if sum(groups) != n_steps or min(groups, default=0) < 1:
        raise InvalidInputError(f"logsnr grid: groups {groups} must be positive and sum to n_steps = {n_steps}")
    lam = lambda t: float(sched.log_snr(torch.tensor(t, dtype=torch.float64)))  # noqa: E731
    t_hi, t_lo = model.t_max, model.t_min
    if n_steps == 1:
        return torch.tensor([t_hi, t_lo], dtype=torch.float64)
    dt = (t_hi - t_lo) / n_steps
    head = [t_hi] if math.isinf(lam(t_hi)) else []  # a one-step end at infinite lambda
    tail = [t_lo] if math.isinf(lam(t_lo)) else []
    core = groups[len(head): len(groups) - len(tail)]
    if (head and groups[0] != 1) or (tail and groups[-1] != 1):
        raise InvalidInputError(
            f"logsnr grid: groups {groups} must start/end with a size-1 group at an infinite-lambda end")
    if not core:  # every step touches an infinite end (n_steps <= 2 on the flow path)
        return torch.linspace(t_hi, t_lo, n_steps + 1, dtype=torch.float64)
    lam_a = lam(t_hi - dt) if head else lam(t_hi)
    lam_b = lam(t_lo + dt) if tail else lam(t_lo)
    outer = torch.linspace(lam_a, lam_b, len(core) + 1, dtype=torch.float64)
    lams = [outer[:1]] + [torch.linspace(float(outer[k]), float(outer[k + 1]), g + 1, dtype=torch.float64)[1:]
                          for k, g in enumerate(core)]
    ts = sched.t_of_log_snr(torch.cat(lams)).to(torch.float64)
    if not head:
        ts[0] = t_hi
    if not tail:
        ts[-1] = t_lo
    return torch.cat([torch.tensor(head, dtype=torch.float64), ts, torch.tensor(tail, dtype=torch.float64)])


@register_grid("explicit")
def grid_explicit(n_steps: int, model: FlowModel, times: list[float] | torch.Tensor | None = None) -> torch.Tensor:
    """Exactly the given ``times`` (grid_options={"times": [...]}), e.g. another library's grid.

    n_steps + 1 times, strictly decreasing, inside [t_min, t_max]; for step-for-step comparisons.
    The noise is taken to live at times[0]; a grid that does not span [t_min, t_max] integrates
    only part of the ODE (and ref_rmse against the full-interval reference shows it).
    """
    if times is None:
        raise InvalidInputError("grid 'explicit' needs grid_options={'times': [...]}")
    ts = torch.as_tensor(times, dtype=torch.float64).flatten()
    if len(ts) != n_steps + 1:
        raise InvalidInputError(f"grid 'explicit': the sampler's plan needs {n_steps + 1} times, got {len(ts)}")
    if bool((ts[1:] >= ts[:-1]).any()) or float(ts.max()) > model.t_max or float(ts.min()) < model.t_min:
        raise InvalidInputError(
            f"grid 'explicit': times must decrease strictly within [t_min, t_max] = [{model.t_min}, {model.t_max}]"
        )
    return ts.clone()
