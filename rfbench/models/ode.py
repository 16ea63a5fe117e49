"""The model's ODE solved: the adaptive reference solution and fixed-step Euler / Heun trajectories.

They live with the models (not the samplers) because training needs them too: reflow pairs are
solved by :func:`reference_solution`, and BOSS's calibration and fine-tune and FlowTurbo's refiner
train on the model's own fixed-step trajectories (:func:`integrate_fixed`, :func:`fixed_trajectory`).
The ``dopri5``, ``euler`` and ``heun`` samplers are thin update rules over the same functions.

Adaptive solves use torchdiffeq's Dormand-Prince 5(4). As in scipy's RK45 used by the RF paper, the
error norm is taken over the whole batch, so one step size is shared by all samples and the NFE
depends on batch size and composition (reported, not hidden). Models that cannot be evaluated at
t_min are integrated to ``model.t_ref_end`` and finished with one Euler (for a denoiser: denoising)
step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torchdiffeq import odeint

from .. import progress as _progress
from ..errors import InvalidInputError
from .base import FlowModel, NFECounter
from .checks import FirstOutputCheck, non_finite_note, warn_notes

# Global error of dopri5 is ~100x its tolerance on these problems (measured: max endpoint error 3e-8
# at 1e-10 on analytic-gmm-rf); suites with costly networks set a looser tolerance (Suite.reference_tol).
REFERENCE_RTOL = 1e-10
REFERENCE_ATOL = 1e-10


def ode_end(model: FlowModel) -> float:
    """Where an ODE solve stops before t_min: t_min itself, or ``t_ref_end`` for a model that cannot be
    evaluated at t_min (then :func:`finish_at_t_min` takes the final Euler step)."""
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


def finish_at_t_min(model: FlowModel, x: torch.Tensor, end: float) -> torch.Tensor:
    """x at t_min from x at ``end`` (:func:`ode_end`): itself, or one Euler (denoising) step."""
    if end == model.t_min:
        return x
    return x + (model.t_min - end) * model.velocity(x, end)


@dataclass
class ReferenceSolution:
    """The accurate ODE solution from given noise.

    x_end (also ``x``, as in SampleResult): endpoint at t_min (shape of the noise, in ``dtype``); nfe:
    evaluations used;
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
    notes: str = ""

    @property
    def x(self) -> torch.Tensor:
        """The endpoint, as :class:`~rfbench.samplers.api.SampleResult` names its samples (= ``x_end``)."""
        return self.x_end


@torch.no_grad()
def reference_solution(model: FlowModel | str, noise: torch.Tensor, *, rtol: float = REFERENCE_RTOL,
                       atol: float = REFERENCE_ATOL, dtype: torch.dtype = torch.float64,
                       times: torch.Tensor | None = None) -> ReferenceSolution:
    """Solve the model's ODE from ``noise`` to t_min with dopri5 at tight tolerances in ``dtype``.

    float64 by default (set ``dtype=torch.float32`` where the model does not allow float64, e.g.
    on some GPUs). ``times`` (decreasing, within [t_min, t_max]) additionally returns the
    trajectory there, used for straightness. ``model`` may be a registered name, as in ``rfbench.sample``.
    """
    if isinstance(model, str):
        from .registry import get_model

        model = get_model(model)
    ref_model = model.in_dtype(dtype)
    x = noise.to(dtype)
    end = ode_end(model)
    grid = [model.t_max, end]
    if times is not None:
        inner = [float(t) for t in times if end < float(t) < model.t_max]
        grid = [model.t_max, *inner, end]
    start = time.perf_counter()
    with FirstOutputCheck(ref_model, "the reference solution") as check, NFECounter(ref_model) as counter:
        states = solve_ode(ref_model, x, grid, rtol=rtol, atol=atol)
        x_end = finish_at_t_min(ref_model, states[-1], end)
    seconds = time.perf_counter() - start
    notes = warn_notes(check.notes + [non_finite_note(model, x_end, "the reference solution")],
                       stacklevel=4)  # past torch.no_grad's wrapper, at the caller
    sol = ReferenceSolution(x_end=x_end, nfe=counter.count, seconds=seconds, rtol=rtol, atol=atol, dtype=dtype,
                            notes=notes)
    if times is not None:
        sol.times = torch.tensor(grid, dtype=torch.float64)
        sol.states = states
    return sol


# -- fixed-step Euler and Heun ----------------------------------------------------------------------

RULES = ("euler", "heun")


def _fixed_steps(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, rule: str,
                 final_euler: bool) -> Iterator[tuple[int, float, float, torch.Tensor, torch.Tensor]]:
    """(i, t, t_next, x_{i+1}, d_i) per step, d_i = v(x_i, t_i).

    Euler: x_{i+1} = x_i + (t_{i+1} - t_i) d_i. Heun (explicit trapezoidal rule, Karras et al. 2022
    Alg. 1 without churn): x' = x_i + h d_i; x_{i+1} = x_i + h/2 (d_i + v(x', t_{i+1})); the last step
    is a plain Euler step when ``final_euler`` is set or the model cannot be evaluated at t_min.
    The floating-point operations are in this order in every user (results are bit-identical).
    """
    if rule not in RULES:
        raise ValueError(f"unknown fixed-step rule {rule!r}; expected one of {RULES}")
    times = ts.tolist()
    last = len(times) - 2
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        if rule == "euler":
            d = model.velocity(x, t)
            x = x + (t_next - t) * d
        else:
            h = t_next - t
            d = model.velocity(x, t)
            x_pred = x + h * d
            if i == last and (final_euler or not model.can_evaluate(t_next)):
                x = x_pred
            else:
                x = x + (h / 2) * (d + model.velocity(x_pred, t_next))
        yield i, t, t_next, x, d


@torch.no_grad()
def integrate_fixed(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, rule: str = "euler", *,
                    final_euler: bool = False, callback: Callable[[dict], None] | None = None) -> torch.Tensor:
    """The state at ts[-1] after ``rule`` ("euler": 1 NFE per step; "heun": 2) on the grid ``ts``;
    ``callback(info)`` after every step with a dict of i, t, t_next, x."""
    for i, t, t_next, x, _ in _fixed_steps(model, x, ts, rule, final_euler):
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


@torch.no_grad()
def fixed_trajectory(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, rule: str = "euler", *,
                     keep: list[int] | None = None, velocities: bool = False, desc: str | None = None,
                     progress: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The whole trajectory of :func:`integrate_fixed`: states (len(ts), *x.shape), or only those at
    the indices ``keep``; with ``velocities`` also d_i = v(x_i, t_i) of every step (len(ts) - 1, ...),
    else None. ``desc``: label of a progress bar (tqdm on a terminal, lines when piped)."""
    states, vels = [x], []
    steps = _fixed_steps(model, x, ts, rule, False)
    if desc is not None:
        steps = _progress.bar(steps, total=len(ts) - 1, desc=desc, unit="step", leave=False, disable=not progress,
                              estimate=True)
    for _, _, _, x, d in steps:
        if velocities:
            vels.append(d)
        states.append(x)
    out = torch.stack(states if keep is None else [states[k] for k in keep])
    return out, (torch.stack(vels) if velocities else None)
