"""Adaptive (error-controlled) solves: the ``dopri5`` sampler and the reference solution.

Both use torchdiffeq's Dormand-Prince 5(4). As in scipy's RK45 used by the RF paper, the error
norm is taken over the whole batch, so one step size is shared by all samples and the NFE depends
on batch size and composition (reported, not hidden). Models that cannot be evaluated at t_min
are integrated to ``model.t_ref_end`` and finished with one Euler (for a denoiser: denoising) step.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torchdiffeq import odeint

from ..errors import InvalidInputError
from ..models.base import FlowModel, NFECounter
from .checks import FirstOutputCheck, non_finite_note, warn_notes
from .registry import Plan, SamplerSpec, register_sampler

# Global error of dopri5 is ~100x its tolerance on these problems (measured: max endpoint error 3e-8
# at 1e-10 on analytic-gmm-rf); suites with costly networks set a looser tolerance (Suite.reference_tol).
REFERENCE_RTOL = 1e-10
REFERENCE_ATOL = 1e-10


def _end(model: FlowModel) -> float:
    return model.t_min if model.eval_at_t_min else model.t_ref_end


def solve_ode(model: FlowModel, x: torch.Tensor, times: torch.Tensor | list[float], *, rtol: float, atol: float,
              method: str = "dopri5") -> torch.Tensor:
    """States at every time in ``times`` (decreasing, starting where ``x`` lives): (len(times), *x.shape)."""
    times = torch.as_tensor(times, dtype=x.dtype, device=x.device)
    lo, hi = float(times.min()), float(times.max())
    first_bad: list[tuple[float, int]] = []  # (t, samples) of the first non-finite velocity

    def field(t, y):
        # The initial-step heuristic probes one trial step ahead, which can land beyond the end of the
        # interval (t < 0 on a VP path, where sigma(t) is undefined); clamp the time of that probe.
        v = model.velocity(y, t.clamp(lo, hi))
        if not first_bad and not bool(torch.isfinite(v).all()):
            first_bad.append((float(t), int((~torch.isfinite(v.reshape(len(v), -1)).all(1)).sum())))
        return v

    try:
        return odeint(field, x, times, rtol=rtol, atol=atol, method=method)
    except AssertionError as exc:  # torchdiffeq's "underflow in dt": the step size collapsed
        if not first_bad:
            raise
        t_bad, n_bad = first_bad[0]
        raise InvalidInputError(
            f"model {model.name!r} returned a non-finite velocity for {n_bad} of {len(x)} samples at t = {t_bad:.6g}; "
            f"{method} cannot integrate through it ({exc})") from None


def _finish(model: FlowModel, x: torch.Tensor, end: float) -> torch.Tensor:
    if end == model.t_min:
        return x
    return x + (model.t_min - end) * model.velocity(x, end)


@torch.no_grad()
def sample_adaptive(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, rtol: float = 1e-5,
                    atol: float = 1e-5, method: str = "dopri5") -> torch.Tensor:
    """Adaptive Dormand-Prince solve from ts[0] to ts[-1] (interior grid points are ignored)."""
    end = _end(model)
    x = solve_ode(model, x, [float(ts[0]), end], rtol=rtol, atol=atol, method=method)[-1]
    return _finish(model, x, end)


def _adaptive_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    return Plan(steps=1, expected_nfe=None,
                info={"rtol": options.get("rtol", 1e-5), "atol": options.get("atol", 1e-5)})


register_sampler(SamplerSpec(
    name="dopri5", fn=sample_adaptive, order=5, nfe_per_step="adaptive (6 per attempted step + 2)",
    paper="Dormand & Prince 1980 via torchdiffeq; the RF paper's 'RK45, tol 1e-5' protocol",
    description="Adaptive Dormand-Prince 5(4), rtol = atol = 1e-5 by default; NFE measured.",
    plan=_adaptive_plan, adaptive=True, options={"rtol": 1e-5, "atol": 1e-5},
))


@dataclass
class ReferenceSolution:
    """The accurate ODE solution from given noise.

    x_end (also ``x``, as in SampleResult): endpoint at t_min (shape of the noise, in ``dtype``); nfe: evaluations used;
    times / states: the trajectory at ``times`` if requested ((T,), (T, *x.shape));
    notes: what limits its accuracy (a model computing in lower precision, non-finite endpoints).
    """

    x_end: torch.Tensor
    nfe: int
    seconds: float
    rtol: float
    atol: float
    dtype: torch.dtype
    times: torch.Tensor | None = None
    states: torch.Tensor | None = None

    @property
    def x(self) -> torch.Tensor:
        """The endpoint, as :class:`~rfbench.samplers.api.SampleResult` names its samples (= ``x_end``)."""
        return self.x_end
    notes: str = ""


def model_in_dtype(model: FlowModel, dtype: torch.dtype) -> FlowModel:
    """``model`` itself if already in ``dtype``, else a converted copy (the original is untouched)."""
    params = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    if all(p.dtype == dtype for p in params):
        return model
    return copy.deepcopy(model).to(dtype)


@torch.no_grad()
def reference_solution(model: FlowModel | str, noise: torch.Tensor, *, rtol: float = REFERENCE_RTOL,
                       atol: float = REFERENCE_ATOL, dtype: torch.dtype = torch.float64,
                       times: torch.Tensor | None = None) -> ReferenceSolution:
    """Solve the model's ODE from ``noise`` to t_min with dopri5 at tight tolerances in ``dtype``.

    float64 by default (set ``dtype=torch.float32`` where the model does not allow float64, e.g.
    on some GPUs). ``times`` (decreasing, within [t_min, t_max]) additionally returns the
    trajectory there, used for straightness. ``model`` may be a registered name, as in ``rfbench.sample``.
    """
    from .api import _resolve_model  # a name (or module:attr) -> the model, as rfbench.sample does

    model = _resolve_model(model)
    ref_model = model_in_dtype(model, dtype)
    x = noise.to(dtype)
    end = _end(model)
    grid = [model.t_max, end]
    if times is not None:
        inner = [float(t) for t in times if end < float(t) < model.t_max]
        grid = [model.t_max, *inner, end]
    start = time.perf_counter()
    with FirstOutputCheck(ref_model, "the reference solution") as check, NFECounter(ref_model) as counter:
        states = solve_ode(ref_model, x, grid, rtol=rtol, atol=atol)
        x_end = _finish(ref_model, states[-1], end)
    seconds = time.perf_counter() - start
    notes = warn_notes(check.notes + [non_finite_note(model, x_end, "the reference solution")],
                       stacklevel=4)  # past torch.no_grad's wrapper, at the caller
    sol = ReferenceSolution(x_end=x_end, nfe=counter.count, seconds=seconds, rtol=rtol, atol=atol, dtype=dtype,
                            notes=notes)
    if times is not None:
        sol.times = torch.tensor(grid, dtype=torch.float64)
        sol.states = states
    return sol
