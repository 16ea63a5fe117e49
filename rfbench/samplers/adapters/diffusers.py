"""diffusers schedulers as rfbench samplers: ``diffusers:<SchedulerClass>[:key=value]...``.

The scheduler runs as diffusers ships it (its ``set_timesteps`` / ``scale_model_input`` / ``step`` loop,
as its pipelines drive it), on any rfbench model with a schedule:

* **Configured for the model's path.** On a flow model (alpha = 1 - t, sigma = t) a scheduler that
  takes ``use_flow_sigmas`` gets ``use_flow_sigmas=True, prediction_type="flow_prediction"``; the
  FlowMatch schedulers are flow schedulers already. On any other path a scheduler that takes
  ``trained_betas`` gets the model's own schedule as betas: T = ``num_train_timesteps`` (1000) levels
  at t_k = (k + 1) / T with alphas_cumprod_k = sigmoid(2 lambda(t_k)) (exactly the table of a
  discrete-VP model with T steps; VP-linear sampled at its grid). Anything else keeps the scheduler's
  defaults, except that image-range clipping of the data prediction (``clip_sample``, ``thresholding``,
  on by default in DDIM / DDPM) is turned off: rfbench's data are not images in [-1, 1]. Options (in the name or in the call) go to the scheduler's config and override these.
* **Noise levels -> model time** through the frame map of :mod:`._frames` (same lambda), so the times
  the model is evaluated at are the scheduler's own; the result's grid is those times.
* **Predictions** are the model's native output converted by rfbench's conversion layer
  (:meth:`FlowModel.convert`) into the scheduler's ``prediction_type``.
* **NFE**: one model call per entry of ``scheduler.timesteps`` (its pipelines' loop), counted by
  rfbench's hook; the plan takes the most inference steps whose timesteps fit the requested NFE.
* **Deterministic only**: classes whose step draws noise are refused, and every configuration is
  probed once (two runs under different seeds must agree exactly), so an option that makes a scheduler
  stochastic (``algorithm_type="sde-dpmsolver++"``, ``stochastic_sampling=True``) is refused too.

The row records the scheduler's class, the diffusers version and its full config (``scheduler_config``,
JSON). diffusers keeps sigmas in float32; ``sigmas_dtype="sample"`` (the default) casts its sigma
table to the sampling dtype (float64 runs then compute in float64 where the scheduler's step lets
them), ``sigmas_dtype="library"`` keeps diffusers' float32 table.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import math

import torch

from ...errors import InvalidInputError, MissingResourceError
from ...models.base import FlowModel
from ...models.schedules import FlowSchedule
from ..registry import Plan, SamplerSpec
from ._frames import (as_json, frame_scale, merge_options, model_time, parse_name, prediction_from,
                      strictly_decreasing)

PREFIX = "diffusers"

# How each supported scheduler keeps its state x_s = A x0 + S n (see _frames), and its nominal order
# with its default config (the measured orders are in docs/adapters.md).
FRAMES = {
    "FlowMatchEulerDiscreteScheduler": ("flow", 1),
    "FlowMatchHeunDiscreteScheduler": ("flow", 2),
    "DPMSolverMultistepScheduler": ("alpha-sigma", 2),
    "DPMSolverSinglestepScheduler": ("alpha-sigma", 2),
    "UniPCMultistepScheduler": ("alpha-sigma", 3),
    "DEISMultistepScheduler": ("alpha-sigma", 2),
    "EulerDiscreteScheduler": ("ve", 1),
    "HeunDiscreteScheduler": ("ve", 2),
    "LMSDiscreteScheduler": ("ve", 4),
    "KDPM2DiscreteScheduler": ("ve", 2),
    "DDIMScheduler": ("alphas-cumprod", 1),
    "PNDMScheduler": ("alphas-cumprod", 4),
    "IPNDMScheduler": ("ipndm", 4),  # its own levels alpha = cos-like, sigma = sin^2(pi s / 2); v-prediction
}
# Why the others are not run (rfbench compares ODE solutions; the adapter reads only the frames above).
REFUSED = {
    "DDPMScheduler": "stochastic: ancestral sampling draws fresh noise at every step",
    "DDPMParallelScheduler": "stochastic: ancestral sampling draws fresh noise at every step",
    "EulerAncestralDiscreteScheduler": "stochastic: ancestral steps draw fresh noise",
    "KDPM2AncestralDiscreteScheduler": "stochastic: ancestral steps draw fresh noise",
    "LCMScheduler": "stochastic: multistep consistency sampling re-noises between steps",
    "TCDScheduler": "stochastic: gamma > 0 re-noises between steps (and a consistency model is needed)",
    "SASolverScheduler": "stochastic: SA-Solver's default tau adds noise at every step",
    "CMStochasticIterativeScheduler": "stochastic: consistency-model sampling re-noises between steps",
    "ScoreSdeVeScheduler": "stochastic: reverse-SDE predictor-corrector (and no step())",
    "DPMSolverSDEScheduler": "stochastic: SDE solver (Brownian tree noise)",
    "CosineDPMSolverMultistepScheduler": "stochastic: SDE solver (Brownian tree noise)",
    "LTXEulerAncestralRFScheduler": "stochastic: ancestral steps draw fresh noise",
    "RePaintScheduler": "inpainting: resamples with fresh noise",
    "DDIMInverseScheduler": "inversion (data -> noise), not a sampler",
    "DPMSolverMultistepInverseScheduler": "inversion (data -> noise), not a sampler",
}
OTHER = ("not mapped by the adapter: not a Gaussian-path sampler whose state it knows how to read (discrete "
         "tokens, consistency / distilled or model-specific scheduler); add its frame to FRAMES to run it")


@functools.lru_cache(maxsize=1)
def _library():
    try:
        return importlib.import_module("diffusers")
    except ImportError as exc:
        raise MissingResourceError(f"the 'diffusers:' samplers need the diffusers package ({exc}); "
                                   "pip install 'rfbench[diffusers]'") from None


def scheduler_class(cls_name: str):
    lib = _library()
    try:
        cls = getattr(lib, cls_name)
    except (AttributeError, ImportError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else "no such class"
        raise InvalidInputError(f"sampler 'diffusers:{cls_name}': diffusers {lib.__version__} has no usable "
                                f"scheduler {cls_name!r} ({why}); see `rfbench list samplers`") from None
    if not (inspect.isclass(cls) and issubclass(cls, lib.SchedulerMixin)):
        raise InvalidInputError(f"sampler 'diffusers:{cls_name}': {cls_name!r} is not a diffusers scheduler class")
    return cls


def refusal(cls_name: str) -> str | None:
    """Why ``cls_name`` is not run (None when it is)."""
    if cls_name in FRAMES:
        return None
    return REFUSED.get(cls_name, OTHER)


def config_for(cls, model: FlowModel, options: dict) -> dict:
    """The scheduler's config for ``model`` (module docstring), options on top; unknown keys refused."""
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(options) - set(params) - {"sigmas_dtype"})
    if unknown:
        raise InvalidInputError(f"sampler 'diffusers:{cls.__name__}' has no option {unknown[0]!r}; its config keys: "
                                + ", ".join(k for k in params if k not in ("self", "kwargs")))
    frame = FRAMES[cls.__name__][0]
    sched = model.require_schedule(f"the noise levels of diffusers' {cls.__name__}")
    flow = isinstance(sched, FlowSchedule)
    config: dict = {}
    if frame != "flow" and flow and "use_flow_sigmas" in params:
        config.update(use_flow_sigmas=True, prediction_type="flow_prediction")
    elif frame not in ("flow", "ipndm") and not flow and "trained_betas" in params:
        T = int(options.get("num_train_timesteps", 1000))
        config.update(num_train_timesteps=T, trained_betas=betas_of(model, T))
    for key in ("clip_sample", "thresholding"):  # image-range clipping of x0_hat: off (data are not in [-1, 1])
        if key in params:
            config[key] = False
    if "prediction_type" in params and "prediction_type" not in config:
        config["prediction_type"] = "sample" if model.prediction == "x0" else "epsilon"
    config.update({k: v for k, v in options.items() if k != "sigmas_dtype"})
    return config


def betas_of(model: FlowModel, T: int) -> list[float]:
    """DDPM betas whose alphas_cumprod are the model's at t_k = (k + 1) / T: sigmoid(2 lambda(t_k))."""
    t = torch.arange(1, T + 1, dtype=torch.float64) / T
    ac = torch.sigmoid(2 * model.schedule.log_snr(t.clamp(model.t_min, model.t_max)))
    prev = torch.cat([torch.ones(1, dtype=torch.float64), ac[:-1]])
    return (1 - ac / prev).tolist()


def _prediction_type(cls, config: dict) -> str:
    frame = FRAMES[cls.__name__][0]
    if frame == "flow":
        return "flow_prediction"
    if frame == "ipndm":  # its step forms beta x + alpha m, the noise when m = alpha eps - beta x0
        return "v_prediction"
    return config.get("prediction_type", "epsilon")


def _make(cls, config: dict, steps: int, dtype: torch.dtype, device, sigmas_dtype: str):
    sched = cls(**config)
    sched.set_timesteps(steps, device=device)
    if sigmas_dtype == "sample" and isinstance(getattr(sched, "sigmas", None), torch.Tensor):
        sched.sigmas = sched.sigmas.to(dtype)
    return sched


def _frame(sched, frame: str, i: int, timestep) -> tuple[float, float]:
    """(A, S) of the point the i-th evaluation is made at, read after ``scale_model_input`` (which sets
    the step index of the schedulers that keep one)."""
    if frame == "flow":
        s = float(sched.sigmas[i])
        return 1.0 - s, s
    if frame == "alpha-sigma":
        a, s = sched._sigma_to_alpha_sigma_t(sched.sigmas[i])
        return float(a), float(s)
    if frame == "ve":
        k = sched.step_index if getattr(sched, "step_index", None) is not None else i
        second = hasattr(sched, "sigmas_interpol") and not sched.state_in_first_order  # KDPM2's midpoint
        table = sched.sigmas_interpol if second else sched.sigmas
        return 1.0, float(table[k])
    if frame == "alphas-cumprod":
        ac = float(sched.alphas_cumprod[int(timestep)])
        return math.sqrt(ac), math.sqrt(1.0 - ac)
    return float(sched.alphas[i]), float(sched.betas[i])  # ipndm: its own sin/cos levels


def _end_frame(sched, frame: str) -> tuple[float, float]:
    """(A, S) of the state the last step returns."""
    if frame == "flow":
        s = float(sched.sigmas[-1])
        return 1.0 - s, s
    if frame == "alpha-sigma":
        a, s = sched._sigma_to_alpha_sigma_t(sched.sigmas[-1])
        return float(a), float(s)
    if frame == "ve":
        return 1.0, float(sched.sigmas[-1])
    if frame == "alphas-cumprod":
        ac = float(sched.final_alpha_cumprod)
        return math.sqrt(ac), math.sqrt(1.0 - ac)
    return float(sched.alphas[-1]), float(sched.betas[-1])


@torch.no_grad()
def sample_scheduler(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, scheduler: str, config: dict,
                     inference_steps: int, sigmas_dtype: str = "sample", callback=None, **_options) -> torch.Tensor:
    """Drive diffusers' ``scheduler`` (class name) as its pipelines do, from the model's x at ts[0].

    Per timestep: x_t = c x_s at the model time of the scheduler's level, the model's output converted
    to the scheduler's prediction type, ``step``. ``_options`` are the config options already in
    ``config`` (the call passes them again).
    """
    cls = scheduler_class(scheduler)
    frame = FRAMES[scheduler][0]
    kind = _prediction_type(cls, config)
    sched = _make(cls, config, inference_steps, x.dtype, x.device, sigmas_dtype)
    x_s = None
    for i, timestep in enumerate(list(sched.timesteps)):
        if hasattr(sched, "scale_model_input"):  # sets the step index; the model gets c x_s instead
            sched.scale_model_input(x if x_s is None else x_s, timestep)
        A, S = _frame(sched, frame, i, timestep)
        t = model_time(model, A, S)
        c = frame_scale(model, t, A, S)
        if x_s is None:  # the model's noise at ts[0], in the scheduler's frame at its first level
            x_s = x / c
        x_t = c * x_s
        out = model._call(x_t, t)
        pred = prediction_from(model, out, kind, x_t, t, A, S)
        x_s = sched.step(pred, timestep, x_s, return_dict=False)[0]
        if callback is not None:
            callback({"i": i, "t": t, "x": x_s, "timestep": float(timestep)})
    A, S = _end_frame(sched, frame)
    t_end = model_time(model, A, S)
    return frame_scale(model, t_end, A, S) * x_s


def scheduler_times(model: FlowModel, cls, config: dict, steps: int, sigmas_dtype: str) -> tuple[list[float], int]:
    """(model times of the evaluations and the end, number of evaluations), from a dry run of the
    scheduler on one zero sample (its levels do not depend on the sample)."""
    frame = FRAMES[cls.__name__][0]
    kind = _prediction_type(cls, config)
    sched = _make(cls, config, steps, torch.float64, "cpu", sigmas_dtype)
    x = torch.zeros(1, 1, dtype=torch.float64)
    times = []
    for i, timestep in enumerate(list(sched.timesteps)):
        if hasattr(sched, "scale_model_input"):
            sched.scale_model_input(x, timestep)
        times.append(model_time(model, *_frame(sched, frame, i, timestep)))
        pred = x if kind != "sample" else torch.zeros_like(x)
        x = sched.step(pred, timestep, x, return_dict=False)[0]
    return times + [model_time(model, *_end_frame(sched, frame))], len(times)


_PROBED: set = set()
_FITS: dict = {}


def _fit(model: FlowModel, cls, config: dict, nfe: int, sigmas_dtype: str, name: str):
    """(inference steps, model times, evaluations): the most steps whose evaluations fit in ``nfe``
    (memoised per scheduler config, model path and NFE: a sweep asks again for every timing repeat)."""
    key = (cls.__name__, as_json(config), nfe, sigmas_dtype, repr(model.schedule.config()), model.t_min, model.t_max,
           model.t_ref_end)
    if key in _FITS:
        return _FITS[key]
    fewest, failure = None, None
    start = min(nfe, (nfe + 1) // max(int(getattr(cls, "order", 1) or 1), 1) + 1)
    for steps in range(start, 0, -1):
        try:
            times, evals = scheduler_times(model, cls, config, steps, sigmas_dtype)
        except (ValueError, IndexError, RuntimeError) as exc:  # a step count the scheduler rejects
            failure = failure or f"at {steps} inference steps: {type(exc).__name__}: {exc}"
            continue
        if evals <= nfe:
            _FITS[key] = (steps, times, evals)
            return _FITS[key]
        fewest = (steps, evals)
    raise InvalidInputError(f"sampler {name!r} cannot run within NFE {nfe}"
                            + (f": {fewest[0]} inference steps already make {fewest[1]} evaluations" if fewest else "")
                            + (f" (fewer steps fail {failure})" if failure else ""))


@functools.lru_cache(maxsize=256)
def _recorded_json(cls, key: str, schedule: str) -> str:
    config = dict(cls(**json.loads(key)).config)
    if config.get("trained_betas") is not None:  # 1,000 numbers: named by what they were made from
        config["trained_betas"] = f"{len(config['trained_betas'])} betas of the model's schedule {schedule}"
    return as_json(config)


def _recorded_config(cls, config: dict, model: FlowModel) -> str:
    """The scheduler's full config (its defaults included) as JSON, for the row."""
    return _recorded_json(cls, json.dumps(config, sort_keys=True), json.dumps(model.schedule.config(), sort_keys=True))


def _probe_deterministic(cls, key: str, config: dict) -> None:
    """Refuse a configuration whose step draws noise: two 4-step runs under different seeds must agree."""
    if (cls.__name__, key) in _PROBED:
        return
    outs = []
    for seed in (0, 1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            sched = cls(**config)
            sched.set_timesteps(4)  # PNDM's fewest
            x = torch.linspace(-1.0, 1.0, 8, dtype=torch.float32).reshape(2, 4)
            for timestep in list(sched.timesteps):
                if hasattr(sched, "scale_model_input"):
                    x_in = sched.scale_model_input(x, timestep)
                else:
                    x_in = x
                x = sched.step(0.3 * x_in, timestep, x, return_dict=False)[0]
            outs.append(x)
    if not torch.equal(outs[0], outs[1]):
        raise InvalidInputError(f"sampler 'diffusers:{cls.__name__}' with config {as_json(config)} is stochastic "
                                "(two runs under different seeds differ): rfbench compares ODE solutions")
    _PROBED.add((cls.__name__, key))


def _plan(name: str, cls_name: str, name_options: dict):
    def plan(nfe: int, model: FlowModel, options: dict) -> Plan:
        cls = scheduler_class(cls_name)
        opts = merge_options(name, name_options, options)
        sigmas_dtype = opts.get("sigmas_dtype", "sample")
        if sigmas_dtype not in ("sample", "library"):
            raise InvalidInputError(f"sampler {name!r}: sigmas_dtype must be 'sample' or 'library', got {sigmas_dtype!r}")
        config = config_for(cls, model, opts)
        _probe_deterministic(cls, as_json(config), config)
        steps, times, evals = _fit(model, cls, config, nfe, sigmas_dtype, name)
        info = {"library": f"diffusers {_library().__version__}", "scheduler": cls_name,
                "scheduler_config": _recorded_config(cls, config, model), "inference_steps": steps}
        if evals != nfe:
            info["nfe_note"] = f"{cls_name}: {steps} inference steps make {evals} evaluations (requested {nfe})"
        if times[0] < model.t_max:
            info["start_note"] = f"{cls_name} starts at t = {times[0]:.6g} < t_max = {model.t_max:g} (its largest noise level)"
        if times[-1] > model.t_min:
            info["end_note"] = f"{cls_name} ends at t = {times[-1]:.6g} > t_min = {model.t_min:g} (its last level)"
        ts = torch.tensor(strictly_decreasing(times), dtype=torch.float64)
        return Plan(steps=len(ts) - 1, expected_nfe=evals, ts=ts, info=info,
                    kwargs={"scheduler": cls_name, "config": config, "inference_steps": steps,
                            "sigmas_dtype": sigmas_dtype})
    return plan


def resolve(name: str) -> SamplerSpec:
    """The spec for ``diffusers:<Class>[:key=value]...`` (registry hook)."""
    cls_name, name_options = parse_name(name, PREFIX)
    cls = scheduler_class(cls_name)
    why = refusal(cls_name)
    if why:
        raise InvalidInputError(f"sampler {name!r} is not supported: {why}")
    lib = _library()
    order = FRAMES[cls_name][1]
    if "solver_order" in name_options and isinstance(name_options["solver_order"], int):
        order = name_options["solver_order"] + (1 if cls_name == "UniPCMultistepScheduler" else 0)
    two_stage = getattr(cls, "order", 1) == 2
    return SamplerSpec(
        name=name, fn=sample_scheduler, order=order,
        nfe_per_step="2 (last step 1)" if two_stage else ("1 (PRK warm-up: 4)" if cls_name == "PNDMScheduler" else "1"),
        paper=f"diffusers {lib.__version__} {cls_name}, driven as its pipelines do",
        description=f"diffusers' {cls_name} on the model's path (flow sigmas / the model's betas), "
                    "predictions through rfbench's conversions; options go to its config",
        default_grid="scheduler", plan=_plan(name, cls_name, name_options), needs="schedule",
        options={"library": "diffusers", "version": lib.__version__, "scheduler": cls_name, **name_options},
    )


def entries() -> list[tuple[str, str | None]]:
    """(``diffusers:<Class>``, refusal reason or None) for every scheduler class the installed diffusers
    exports (importing each; one that needs a missing package is listed with that reason)."""
    try:
        lib = _library()
    except MissingResourceError as exc:
        return [(f"{PREFIX}:*", str(exc))]
    out = []
    for attr in sorted(dir(lib)):
        if not attr.endswith("Scheduler") or attr == "SchedulerMixin":
            continue
        try:
            cls = getattr(lib, attr)
        except (ImportError, AttributeError) as exc:
            first = (str(exc).strip().splitlines() or ["import failed"])[0]
            out.append((f"{PREFIX}:{attr}", REFUSED.get(attr, first)))
            continue
        if not (inspect.isclass(cls) and issubclass(cls, lib.SchedulerMixin)):
            continue
        if not (hasattr(cls, "set_timesteps") and hasattr(cls, "step")):
            out.append((f"{PREFIX}:{attr}", REFUSED.get(attr, "no set_timesteps/step")))
            continue
        out.append((f"{PREFIX}:{attr}", refusal(attr)))
    return out
