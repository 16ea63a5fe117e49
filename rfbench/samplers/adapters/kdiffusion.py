"""k-diffusion's samplers as rfbench samplers: ``k-diffusion:<sampler>[:key=value]...`` (optional extra
``rfbench[k-diffusion]``; ``sample_`` may be left out: ``k-diffusion:dpmpp_2m``).

k-diffusion's samplers integrate the EDM ODE in its "VE" frame x = x0 + sigma n with a denoiser
D(x, sigma) = E[x0 | x]. rfbench gives them a **denoiser view** of any model with a schedule: sigma is
the model time with the same lambda = -log sigma (:mod:`._frames`), the model sees x_t = c x, and its
native output is converted to the data prediction by rfbench's conversion layer. One denoiser call is one
model evaluation, counted by rfbench's hook; the plan takes the most steps whose calls fit the NFE
(a dry run of the sampler counts them: Heun and DPM-2 make 2 per step, 1 on the last step into 0).

**Sigmas** are k-diffusion's own: ``schedule="karras"`` (default; ``get_sigmas_karras``, ``rho`` 7) or
``"exponential"``, from ``sigma_max`` = min(sigma(t_max) / alpha(t_max), 80) (80 on the flow path,
whose t = 1 is pure noise: the run starts at t = 80/81, EDM's largest level, and the noise is taken to
be there) to ``sigma_min`` = the model's last evaluable level where it cannot be evaluated at t_min,
else max(its level at t_min, 0.002), then 0 (k-diffusion's final step returns the denoised sample).

**Deterministic only**: ``*_ancestral``, ``*_sde`` and the adaptive / fast DPM-Solver (other calling
convention) are refused, and ``s_churn`` > 0 (Karras' stochastic churn) is refused.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math

import torch

from ...errors import InvalidInputError, MissingResourceError
from ...models.base import FlowModel
from ..registry import Plan, SamplerSpec
from ._frames import as_json, frame_scale, merge_options, model_time, parse_name, strictly_decreasing

PREFIX = "k-diffusion"
ORDERS = {"sample_euler": 1, "sample_heun": 2, "sample_dpm_2": 2, "sample_lms": 4, "sample_dpmpp_2m": 2}
SCHEDULES = ("karras", "exponential")
PLAN_OPTIONS = {"schedule", "sigma_min", "sigma_max", "rho"}


@functools.lru_cache(maxsize=1)
def _library():
    try:
        return importlib.import_module("k_diffusion")
    except ImportError as exc:  # the package imports its training and evaluation modules too
        raise MissingResourceError(f"the 'k-diffusion:' samplers need the k-diffusion package and what it imports "
                                   f"({type(exc).__name__}: {exc}); pip install 'rfbench[k-diffusion]'") from None


def refusal(fn_name: str, fn=None) -> str | None:
    if "ancestral" in fn_name or "sde" in fn_name:
        return "stochastic: draws fresh noise at every step (rfbench compares ODE solutions)"
    if fn_name in ("sample_dpm_fast", "sample_dpm_adaptive"):
        return "not adapted: takes (sigma_min, sigma_max, n) instead of a sigma schedule"
    if fn is not None and "sigmas" not in inspect.signature(fn).parameters:
        return "not adapted: no sigma schedule argument"
    return None


def sampler_function(name: str, fn_name: str):
    lib = _library()
    fn = getattr(lib.sampling, fn_name, None)
    if not fn_name.startswith("sample_") or not callable(fn):
        offered = ", ".join(n for n, _ in entries())
        raise InvalidInputError(f"sampler {name!r}: k-diffusion has no sampler {fn_name!r}; its entries: {offered}")
    return fn


class DenoiserView:
    """D(x, sigma) = E[x0 | x] of an rfbench model in k-diffusion's frame x = x0 + sigma n."""

    def __init__(self, model: FlowModel):
        self.model = model

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **_extra) -> torch.Tensor:
        s = float(sigma.flatten()[0])
        t = model_time(self.model, 1.0, s)
        x_t = frame_scale(self.model, t, 1.0, s) * x
        return self.model.convert(self.model._call(x_t, t), "x0", x_t, t)


def sigma_range(model: FlowModel, options: dict) -> tuple[float, float]:
    """(sigma_min, sigma_max) for ``model`` (module docstring), options on top."""
    sched = model.require_schedule("k-diffusion's sigma (noise-to-signal) levels")
    level = lambda t: float(torch.exp(-sched.log_snr(torch.tensor(t, dtype=torch.float64))))  # noqa: E731
    hi = level(model.t_max)
    sigma_max = float(options.get("sigma_max", hi if math.isfinite(hi) else 80.0))
    if "sigma_min" in options:
        sigma_min = float(options["sigma_min"])
    elif not model.eval_at_t_min:
        sigma_min = level(model.t_ref_end)
    else:
        sigma_min = max(level(model.t_min) if model.t_min > 0 else 0.0, 0.002)
    if not 0 < sigma_min < sigma_max:
        raise InvalidInputError(f"k-diffusion sigmas need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    return sigma_min, sigma_max


def make_sigmas(steps: int, schedule: str, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    lib = _library()
    if schedule == "karras":
        return lib.sampling.get_sigmas_karras(steps, sigma_min, sigma_max, rho=rho, device="cpu").double()
    return lib.sampling.get_sigmas_exponential(steps, sigma_min, sigma_max, device="cpu").double()


def _count_calls(fn, sigmas: torch.Tensor, options: dict) -> int:
    calls = []

    def dummy(x, sigma, **_):
        calls.append(1)
        return torch.zeros_like(x)
    fn(dummy, torch.zeros(1, 1, dtype=torch.float64), sigmas, disable=True, **options)
    return len(calls)


@torch.no_grad()
def sample_kdiffusion(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, function: str, sigmas: list[float],
                      sampler_options: dict, callback=None, **_options) -> torch.Tensor:
    """Run k-diffusion's ``function`` on the denoiser view of ``model`` over ``sigmas``, from the model's
    noise at ts[0] (x_s = x / c at sigmas[0])."""
    fn = getattr(_library().sampling, function)
    sig = torch.tensor(sigmas, dtype=x.dtype, device=x.device)
    t0 = model_time(model, 1.0, sigmas[0])
    x_s = x / frame_scale(model, t0, 1.0, sigmas[0])
    cb = None if callback is None else (lambda d: callback({"i": d["i"], "x": d["x"], "sigma": float(d["sigma"])}))
    x_s = fn(DenoiserView(model), x_s, sig, disable=True, callback=cb, **sampler_options)
    t_end = model_time(model, 1.0, sigmas[-1])
    return frame_scale(model, t_end, 1.0, sigmas[-1]) * x_s


def _plan(name: str, fn_name: str, name_options: dict):
    def plan(nfe: int, model: FlowModel, options: dict) -> Plan:
        fn = sampler_function(name, fn_name)
        opts = merge_options(name, name_options, options)
        params = inspect.signature(fn).parameters
        accepted = {k for k in params if k not in ("model", "x", "sigmas", "extra_args", "callback", "disable")}
        unknown = sorted(set(opts) - accepted - PLAN_OPTIONS)
        if unknown:
            raise InvalidInputError(f"sampler {name!r} has no option {unknown[0]!r}; its options: "
                                    + ", ".join(sorted(accepted | PLAN_OPTIONS)))
        if float(opts.get("s_churn", 0.0)) > 0:
            raise InvalidInputError(f"sampler {name!r}: s_churn > 0 adds noise (Karras' churn); rfbench compares "
                                    "ODE solutions, so only s_churn=0 runs")
        schedule = opts.get("schedule", "karras")
        if schedule not in SCHEDULES:
            raise InvalidInputError(f"sampler {name!r}: schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
        rho = float(opts.get("rho", 7.0))
        sigma_min, sigma_max = sigma_range(model, opts)
        sampler_options = {k: v for k, v in opts.items() if k in accepted}
        best = None
        for steps in range(nfe, 0, -1):
            sigmas = make_sigmas(steps, schedule, sigma_min, sigma_max, rho)
            calls = _count_calls(fn, sigmas, sampler_options)
            if calls <= nfe:
                best = (steps, sigmas, calls)
                break
        if best is None:
            raise InvalidInputError(f"sampler {name!r} cannot run within NFE {nfe}")
        steps, sigmas, calls = best
        times = [model_time(model, 1.0, float(s)) for s in sigmas]
        info = {"library": f"k-diffusion {_library_version()}", "sampler_config": as_json(
            {"function": fn_name, "schedule": schedule, "sigma_min": sigma_min, "sigma_max": sigma_max, "rho": rho,
             "steps": steps, **sampler_options})}
        if calls != nfe:
            info["nfe_note"] = f"{fn_name}: {steps} steps make {calls} evaluations (requested {nfe})"
        if times[0] < model.t_max:
            info["start_note"] = f"{fn_name} starts at sigma = {sigma_max:g}, t = {times[0]:.6g} < t_max = {model.t_max:g}"
        return Plan(steps=len(strictly_decreasing(times)) - 1, expected_nfe=calls,
                    ts=torch.tensor(strictly_decreasing(times), dtype=torch.float64), info=info,
                    kwargs={"function": fn_name, "sigmas": sigmas.tolist(), "sampler_options": sampler_options})
    return plan


def _library_version() -> str:
    try:
        from importlib.metadata import version

        return version("k-diffusion")
    except Exception:  # noqa: BLE001  (an unpackaged checkout)
        return "unknown"


def resolve(name: str) -> SamplerSpec:
    target, name_options = parse_name(name, PREFIX)
    fn_name = target if target.startswith("sample_") else f"sample_{target}"
    fn = sampler_function(name, fn_name)
    why = refusal(fn_name, fn)
    if why:
        raise InvalidInputError(f"sampler {name!r} is not supported: {why}")
    two = fn_name in ("sample_heun", "sample_dpm_2")
    return SamplerSpec(
        name=name, fn=sample_kdiffusion, order=ORDERS.get(fn_name), nfe_per_step="2 (last step 1)" if two else "1",
        paper=f"k-diffusion {_library_version()} {fn_name} (Karras et al. 2022 sigma schedule)",
        description=f"k-diffusion's {fn_name} on a denoiser view of the model (sigma = its noise-to-signal level)",
        default_grid="k-diffusion", plan=_plan(name, fn_name, name_options), needs="schedule",
        options={"library": "k-diffusion", "version": _library_version(), "function": fn_name, **name_options},
    )


def entries() -> list[tuple[str, str | None]]:
    try:
        lib = _library()
    except MissingResourceError as exc:
        return [(f"{PREFIX}:*", str(exc))]
    return [(f"{PREFIX}:{n[len('sample_'):]}", refusal(n, getattr(lib.sampling, n)))
            for n in sorted(dir(lib.sampling)) if n.startswith("sample_") and callable(getattr(lib.sampling, n))]
