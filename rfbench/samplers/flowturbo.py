"""FlowTurbo (Zhao, Shi, Yu, Zhou & Lu 2024, arXiv 2409.18128): Heun steps, pseudo-corrector steps
and a learned velocity refiner, H_{N_H} P_{N_P} R_{N_R} in this order on a uniform grid of
S = N_H + N_P + N_R steps, as the official ``models_assemble.py`` runs it (shiml20/FlowTurbo).

* **H** (Heun): d = v(x, t_i); x~ = x + h d; d~ = v(x~, t_{i+1}); x <- x + h/2 (d + d~); cache d~.
* **P** (pseudo-corrector): a Heun step whose d is the cached d~ of the previous step (the velocity
  at the previous *predictor* point, same time t_i) instead of v(x_i, t_i): 1 NFE per step.
  x~_i - x_i = O(h^2), so the reused velocity is off by O(h^2) and the method stays order 2.
  With no cache (N_H = 0) the first P step evaluates d (2 NFE).
* **R** (refiner): with v the velocity handed over (the cache of the last H/P step, then the
  previous R step's d): d = v + r(x, t_i; v); x~ = x + h d; d~ = d + r(x~, t_{i+1}; v);
  x <- x + h/2 (d + d~); hand d on. No main-network evaluation, 2 refiner calls.
  *Flagged:* the second call is conditioned on the stale v but added to d (the official code's
  behaviour; its unused ``integrators.py`` conditions on d instead). Reproduced as is.

NFE: nfe_main = 2 N_H + N_P (+1 if N_H = 0 < N_P), nfe_refiner = 2 N_R, reported apart, never merged.
A requested NFE is nfe_main; the default split is N_H = 1, N_P = nfe - 2, N_R = min(3, ceil((N_H + N_P) / 2))
(:func:`flowturbo_schedule`; options ``n_h``, ``n_r``): the official H1P5R3 is ``nfe=7`` and
H8P9R5 is ``nfe=25, n_h=8, n_r=5``. nfe = 1 is not applicable (the first step is a Heun step).

**Refiner** r_phi(x, t, v) -> velocity offset (:mod:`rfbench.models.nets.refiner`), trained per model
on its own trajectories by :mod:`rfbench.training.flowturbo` (docs/flowturbo.md#training).

The refiner is trained once per model content and config, cached on disk and in the process;
rows carry ``calib_s`` (its training seconds) and ``calib_cached``. ``compile=True`` compiles the
main network's and the refiner's forward for the schedule's shapes (``compile_s``, reported apart).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import torch
from torch import nn

from ..errors import InvalidInputError, NotApplicableError
from ..identity import memo_for
from ..models.base import FlowModel, NFECounter
from ..models.nets.refiner import ConvRefiner, VectorRefiner, make_refiner  # noqa: F401  (re-exported)
from ..training.flowturbo import RefinerConfig, RefinerHandle, load_refiner  # noqa: F401  (re-exported)
from .registry import Plan, SamplerSpec, register_sampler


# -- the update rules ------------------------------------------------------------------------------

@torch.no_grad()
def sample_pseudo_corrector(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, final_euler: bool = False,
                            callback=None) -> torch.Tensor:
    """FlowTurbo's pseudo-corrector: one Heun step, then Heun steps that reuse the previous
    predictor-point velocity as d. Order 2; NFE = S + 1 for S steps. The last step skips the
    corrector (predictor only) when ``final_euler`` is set or the model cannot be evaluated at t_min."""
    times = ts.tolist()
    last = len(times) - 2
    cached = None
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        h = t_next - t
        d = model.velocity(x, t) if cached is None else cached
        x_pred = x + h * d
        if i == last and (final_euler or not model.can_evaluate(t_next)):
            x = x_pred
        else:
            cached = model.velocity(x_pred, t_next)
            x = x + (h / 2) * (d + cached)
        if callback is not None:
            callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


def _refine(refiner: nn.Module, x: torch.Tensor, t: float, v: torch.Tensor) -> torch.Tensor:
    return refiner(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device), v)


@torch.no_grad()
def sample_flowturbo(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, hpr: tuple[int, int, int],
                     refiner: RefinerHandle | None = None, compile: bool = False, callback=None,
                     info: dict[str, Any] | None = None) -> torch.Tensor:
    """H_{N_H} P_{N_P} R_{N_R} on the uniform grid ``ts`` (S + 1 times); ``hpr`` = (N_H, N_P, N_R).

    Writes "nfe_main" and "nfe_refiner" (both counted by hooks) and, when compiling, "compile_s" into
    ``info`` (``sample()`` passes the result's info dict).
    """
    n_h, n_p, n_r = hpr
    times = ts.tolist()
    last = len(times) - 2
    info = {} if info is None else info
    refiner = refiner.get(x.device, x.dtype) if refiner is not None else None
    swaps = contextlib.nullcontext()
    if compile:
        swaps, info["compile_s"] = _compiled_forwards(model, refiner, x, times[0])
    with swaps, NFECounter(model) as main, NFECounter(refiner if refiner is not None else nn.Identity()) as aux:
        cached = None
        for i, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
            h = t_next - t
            if i < n_h + n_p:  # Heun (fresh d) or pseudo-corrector (d = previous predictor-point velocity)
                d = model.velocity(x, t) if (i < n_h or cached is None) else cached
                x_pred = x + h * d
                if i == last and not model.can_evaluate(t_next):
                    x = x_pred
                else:
                    cached = model.velocity(x_pred, t_next)
                    x = x + (h / 2) * (d + cached)
            else:  # refiner step: no main-network evaluation
                v = cached
                d = v + _refine(refiner, x, t, v)
                x_pred = x + h * d
                d_pred = d + _refine(refiner, x_pred, t_next, v)  # stale v, as models_assemble.py
                x = x + (h / 2) * (d + d_pred)
                cached = d
            if callback is not None:
                callback({"i": i, "t": t, "t_next": t_next, "x": x})
    info.update(nfe_main=main.count, nfe_refiner=aux.count)
    return x


# -- NFE plans ----------------------------------------------------------------------------------

def _pseudo_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    # S steps cost S + 1 (first step Heun); nfe = 1 is one Euler step. Where the model cannot be
    # evaluated at t_min the last corrector is skipped, so S steps cost S.
    if not model.eval_at_t_min:
        return Plan(steps=nfe, expected_nfe=nfe)
    if nfe == 1:
        return Plan(steps=1, expected_nfe=1, kwargs={"final_euler": True}, info={"nfe_note": "nfe 1: one Euler step"})
    return Plan(steps=nfe - 1, expected_nfe=nfe)


def flowturbo_schedule(nfe: int, n_h: int = 1, n_r: int | None = None) -> tuple[int, int, int]:
    """(N_H, N_P, N_R) for a requested nfe_main: N_P = nfe - 2 N_H (N_H = 0: nfe - 1), and by default
    N_R = min(3, ceil((N_H + N_P) / 2)): the official H1P5R3's ratio (3 refiner steps after 6 main
    steps), capped at its 3 because the refiner's error does not shrink with the step size (it has
    no convergence order), so its share of the trajectory must shrink as the NFE grows."""
    for name, value in (("n_h", n_h), ("n_r", n_r)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InvalidInputError(f"flowturbo option {name} must be a non-negative integer, got {value!r}")
    n_p = nfe - 2 * n_h if n_h > 0 else nfe - 1
    if n_p < 0 or (n_h == 0 and n_p < 1):
        raise NotApplicableError(
            f"flowturbo with n_h={n_h} needs nfe_main >= {max(2, 2 * n_h)} (its first step is a Heun step), "
            f"got nfe {nfe}")
    if n_r is None:
        n_r = min(3, math.ceil((n_h + n_p) / 2))
    return n_h, n_p, n_r


def _flowturbo_plan(nfe: int, model: FlowModel, options: dict) -> Plan:
    unknown = sorted(set(options) - {"n_h", "n_r", "compile", "refiner_config"})
    if unknown:
        raise InvalidInputError(f"sampler 'flowturbo' does not take option(s) {unknown}; "
                                "its options are compile, n_h, n_r, refiner_config")
    n_h, n_p, n_r = flowturbo_schedule(nfe, options.get("n_h", 1), options.get("n_r"))
    if n_r == 0 and not model.eval_at_t_min:  # the last H/P corrector is skipped: one more P step
        n_p += 1
    expected = 2 * n_h + n_p + (1 if n_h == 0 else 0) - (1 if n_r == 0 and not model.eval_at_t_min else 0)
    steps = n_h + n_p + n_r
    info: dict[str, Any] = {"n_h": n_h, "n_p": n_p, "n_r": n_r, "step_h": (model.t_max - model.t_min) / steps,
                            "nfe_main": expected, "nfe_refiner": 2 * n_r}
    handle = None
    if n_r > 0:
        handle = load_refiner(model, options.get("refiner_config"))
        info.update(calib_s=handle.seconds, calib_cached=handle.cache_hit, refiner_params=handle.params)
    return Plan(steps=steps, expected_nfe=expected, kwargs={"hpr": (n_h, n_p, n_r), "refiner": handle},
                info=info)


register_sampler(SamplerSpec(
    name="pseudo-corrector", fn=sample_pseudo_corrector, order=2, nfe_per_step="1 (first step 2: NFE = S + 1)",
    paper="FlowTurbo's pseudo-corrector (Zhao et al. 2024, arXiv 2409.18128, sec. 3.2)",
    description="Heun whose first velocity is reused from the previous predictor point; uniform grid.",
    plan=_pseudo_plan,
))
register_sampler(SamplerSpec(
    name="flowturbo", fn=sample_flowturbo, order=None,
    nfe_per_step="H 2, P 1, R 0 (+2 refiner calls); nfe_main = 2 N_H + N_P",
    paper="FlowTurbo (Zhao et al. 2024, arXiv 2409.18128), models_assemble.py's H/P/R schedule",
    description="Heun, pseudo-corrector, then refiner steps (learned velocity offset, trained per model, cached); "
                "nfe = nfe_main, refiner calls in nfe_refiner.",
    plan=_flowturbo_plan, options={"n_h": 1, "n_r": "min(3, ceil((N_H + N_P) / 2))", "compile": False,
                                   "refiner_config": "RefinerConfig()"},
))


# -- sample-aware compilation ----------------------------------------------------------------------

@contextlib.contextmanager
def _forward_swapped(module: nn.Module, fn):
    module.forward = fn  # instance attribute: __call__ (and the NFE hook) still runs, then fn
    try:
        yield
    finally:
        del module.forward


def _compiled_forwards(model: FlowModel, refiner: nn.Module | None, x: torch.Tensor, t: float):
    """torch.compile the model's (and refiner's) forward for x's shape; (context, compile seconds).

    The step loop stays in Python, so the NFE hooks still see every call (a compiled loop would
    bypass them). The first compiled calls (timed: compile_s) run outside the hooks.
    """
    memo = memo_for(model)
    key = ("flowturbo-compiled", tuple(x.shape), x.dtype, str(x.device), id(refiner))
    if key not in memo:
        start = time.perf_counter()
        fwd = torch.compile(type(model).forward, dynamic=False)
        tt = torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)
        with torch.no_grad():
            v = fwd(model, x, tt)
            ref_fwd = None
            if refiner is not None:
                ref_fwd = torch.compile(type(refiner).forward, dynamic=False)
                ref_fwd(refiner, x, tt, v)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        memo[key] = (fwd, ref_fwd, time.perf_counter() - start)
    fwd, ref_fwd, seconds = memo[key]
    stack = contextlib.ExitStack()
    stack.enter_context(_forward_swapped(model, lambda xx, tt: fwd(model, xx, tt)))
    if refiner is not None:
        stack.enter_context(_forward_swapped(refiner, lambda xx, tt, vv: ref_fwd(refiner, xx, tt, vv)))
    return stack, seconds


__all__ = ["ConvRefiner", "RefinerConfig", "RefinerHandle", "VectorRefiner", "flowturbo_schedule", "load_refiner",
           "make_refiner", "sample_flowturbo", "sample_pseudo_corrector"]
