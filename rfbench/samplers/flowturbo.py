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

**Refiner** r_phi(x, t, v) -> velocity offset: :class:`VectorRefiner` (MLP on [x, v, Fourier(t)])
or :class:`ConvRefiner` (3 conv layers on the channel concatenation [x, v], for images); the last
layer starts at zero (as the paper's adaLN-Zero block), so an untrained refiner hands v on unchanged.
Training (docs/flowturbo.md#training: the official target adapted to rfbench time, data-free):

1. states x_t on the model's own trajectories (Heun, ``pool_steps`` steps from prior noise),
   linearly interpolated to t ~ U on the grid intervals; so any model trains one, analytic models
   and ``from_velocity`` fields with no data included (the official code uses x_t = t x1 + (1-t) x0
   from data latents);
2. teacher velocity v_T = v(x_t, t); dt ~ U(0, dt_max) per example (official: one per batch); a
   teacher Euler step toward the data, t' = max(t - dt, t_lo), x' = x_t + (t' - t) v_T;
3. regress v_T + r(x', t'; v_T) on v(x', t') (MSE). The teacher's examples are computed once, in
   large batches (``n_pairs``), and reused over the optimiser steps (the official code calls the
   teacher on every batch): the training costs seconds on a CPU. dt_max defaults to 0.25 (official:
   0.12), which covers the coarser steps of small NFE (on the 2-D 1-RF it beat 0.12 and 0.5).

The refiner is trained once per model content and config, cached on disk and in the process;
rows carry ``calib_s`` (its training seconds) and ``calib_cached``. ``compile=True`` compiles the
main network's and the refiner's forward for the schedule's shapes (``compile_s``, reported apart).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .. import cache
from .. import progress as _progress
from ..errors import InvalidInputError, NotApplicableError
from ..models.base import FlowModel, NFECounter
from ..models.checkpoints import load_state, make_checkpoint, validate_checkpoint
from ..models.networks import FourierTime
from ..models.training import init_seeded, train
from .adaptive import model_in_dtype
from .calibration import memo_for, model_device, model_fingerprint
from .classic import _skip_last_eval, sample_heun
from .grids import make_grid
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
        if i == last and (final_euler or _skip_last_eval(model, t_next)):
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
                     **_options: Any) -> tuple[torch.Tensor, dict]:
    """H_{N_H} P_{N_P} R_{N_R} on the uniform grid ``ts`` (S + 1 times); ``hpr`` = (N_H, N_P, N_R).

    Returns (x, {"nfe_main", "nfe_refiner"[, "compile_s"]}), both counted by hooks.
    """
    n_h, n_p, n_r = hpr
    times = ts.tolist()
    last = len(times) - 2
    info: dict[str, Any] = {}
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
                if i == last and _skip_last_eval(model, t_next):
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
    return x, info


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


# -- the velocity refiner --------------------------------------------------------------------------

class VectorRefiner(nn.Module):
    """r(x, t, v) for vectors: MLP on [x, v, Fourier(t)] -> offset. x, v: (batch, dim); t: (batch,)."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3, time_dim: int = 16):
        super().__init__()
        self.time = FourierTime(time_dim)
        layers: list[nn.Module] = [nn.Linear(2 * dim + time_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, dim))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([x.reshape(len(x), -1), v.reshape(len(v), -1), self.time(t).to(x.dtype)], dim=1)
        return self.net(flat).reshape(x.shape)


class ConvRefiner(nn.Module):
    """r(x, t, v) for images: conv3x3 on [x, v] (2C channels) + time embedding, SiLU, conv3x3,
    SiLU, conv3x3 -> C. x, v: (batch, C, H, W); t: (batch,)."""

    def __init__(self, channels: int, hidden: int = 64, time_dim: int = 32):
        super().__init__()
        self.time = FourierTime(time_dim)
        self.time_proj = nn.Linear(time_dim, hidden)
        self.conv_in = nn.Conv2d(2 * channels, hidden, 3, padding=1)
        self.conv_mid = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.conv_out = nn.Conv2d(hidden, channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(torch.cat([x, v], dim=1)) + self.time_proj(self.time(t).to(x.dtype))[:, :, None, None]
        h = self.conv_mid(nn.functional.silu(h))
        return self.conv_out(nn.functional.silu(h))


def make_refiner(data_shape: tuple[int, ...], hidden: int = 64, depth: int = 3) -> nn.Module:
    """A vector refiner for (dim,) data, a conv refiner for (C, H, W) data."""
    if len(data_shape) == 1:
        return VectorRefiner(data_shape[0], hidden=hidden, depth=depth)
    if len(data_shape) == 3:
        return ConvRefiner(data_shape[0], hidden=hidden)
    raise NotApplicableError(f"no FlowTurbo refiner architecture for data of shape {data_shape}")


REFINER_CODE_VERSION = "flowturbo-refiner-v1"


@dataclass(frozen=True)
class RefinerConfig:
    """Refiner architecture and training settings (their hash, with the model's, keys the cache)."""

    hidden: int = 64
    depth: int = 3
    n_traj: int = 2048  # trajectories of the model itself: where the training states come from
    pool_steps: int = 32  # Heun steps per trajectory
    n_pairs: int = 65_536  # teacher examples (x', t', v_T, target), computed once in large batches
    dt_max: float = 0.25  # teacher Euler step dt ~ U(0, dt_max) (official 0.12)
    steps: int = 2000
    batch: int = 512
    lr: float = 2e-3
    ema: float = 0.995
    seed: int = 0
    code: str = REFINER_CODE_VERSION


class RefinerHandle:
    """A trained refiner with its provenance; ``get(device, dtype)`` gives a copy placed there."""

    def __init__(self, net: nn.Module, seconds: float, cache_hit: bool, info: dict):
        self.net, self.seconds, self.cache_hit, self.info = net.eval().requires_grad_(False), seconds, cache_hit, info
        self.params = sum(p.numel() for p in net.parameters())
        self._copies: dict = {}

    def get(self, device: torch.device, dtype: torch.dtype) -> nn.Module:
        key = (str(device), dtype)
        if key not in self._copies:
            self._copies[key] = copy.deepcopy(self.net).to(device=device, dtype=dtype)
        return self._copies[key]


@torch.no_grad()
def refiner_examples(teacher: FlowModel, cfg: RefinerConfig, device: torch.device) -> dict[str, torch.Tensor]:
    """The refiner's training set, from the teacher alone (no data):

    x_t on the teacher's Heun trajectories (``pool_steps`` steps from prior noise), linearly
    interpolated to t uniform within a grid interval; v_T = v(x_t, t); dt ~ U(0, dt_max) per
    example; t' = max(t - dt, t_lo) (t_lo: the last time the teacher may be evaluated at);
    x' = x_t + (t' - t) v_T (a teacher Euler step toward the data); target = v(x', t').
    Returns x (= x'), t (= t'), v (= v_T), target, each with n_pairs rows.
    """
    gen = torch.Generator().manual_seed(cfg.seed + 55_555)
    ts = make_grid("uniform", cfg.pool_steps, teacher)
    x = teacher.sample_prior(cfg.n_traj, generator=gen, dtype=torch.float32).to(device)
    states = [x]
    sample_heun(teacher, x, ts, callback=lambda s: states.append(s["x"]))
    states = torch.stack(states)  # (pool_steps + 1, n_traj, ...)
    ts = ts.to(device=device, dtype=torch.float32)
    t_lo = teacher.t_min if teacher.eval_at_t_min else teacher.t_ref_end
    shape = (-1,) + (1,) * (x.ndim - 1)
    out: dict[str, list[torch.Tensor]] = {"x": [], "t": [], "v": [], "target": []}
    chunk = 8192
    for start in range(0, cfg.n_pairs, chunk):
        n = min(chunk, cfg.n_pairs - start)
        idx = torch.randint(0, cfg.n_traj, (n,), generator=gen).to(device)
        j = torch.randint(0, cfg.pool_steps, (n,), generator=gen).to(device)
        u = torch.rand(n, generator=gen).to(device)
        dt = cfg.dt_max * torch.rand(n, generator=gen).to(device)
        t = ts[j] + u * (ts[j + 1] - ts[j])
        x_t = states[j, idx] + u.reshape(shape) * (states[j + 1, idx] - states[j, idx])
        v_t = teacher.velocity(x_t, t)
        t_next = (t - dt).clamp_min(t_lo)
        x_next = x_t + (t_next - t).reshape(shape) * v_t
        for key, value in (("x", x_next), ("t", t_next), ("v", v_t), ("target", teacher.velocity(x_next, t_next))):
            out[key].append(value)
    return {k: torch.cat(v) for k, v in out.items()}


def train_refiner(model: FlowModel, cfg: RefinerConfig, *, progress: bool = True) -> dict:
    """Train a refiner against ``model``'s own velocity: regress v_T + r(x', t'; v_T) on
    v(x', t') (MSE) over :func:`refiner_examples`. Returns a checkpoint dict."""
    if model.data_shape is None:
        raise NotApplicableError(f"model {model.name!r} does not know its data shape, so no refiner can be built")
    start = time.perf_counter()
    _progress.announce(f"FlowTurbo refiner for {model.name}: {cfg.n_pairs} teacher examples, then training", show=progress)
    device = model_device(model)
    teacher = model_in_dtype(model, torch.float32).eval()
    data = refiner_examples(teacher, cfg, device)
    net_config = {"data_shape": list(model.data_shape), "hidden": cfg.hidden, "depth": cfg.depth}
    net = init_seeded(lambda: make_refiner(tuple(model.data_shape), cfg.hidden, cfg.depth), cfg.seed)

    def loss_fn(refiner, gen):
        i = torch.randint(0, cfg.n_pairs, (cfg.batch,), generator=gen).to(device)
        return (data["v"][i] + refiner(data["x"][i], data["t"][i], data["v"][i]) - data["target"][i]).pow(2).mean()

    ema, info = train(net, loss_fn, steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, ema_decay=cfg.ema, device=device,
                      progress=progress, desc=f"FlowTurbo refiner for {model.name}")
    info["seconds"] = time.perf_counter() - start  # the teacher's examples included
    with torch.no_grad():  # how much of the velocity change the refiner explains (1 = all)
        held = {k: v[-4096:] for k, v in data.items()}
        resid = (held["v"] + ema(held["x"], held["t"], held["v"]) - held["target"]).pow(2).mean()
        info["explained"] = float(1 - resid / (held["v"] - held["target"]).pow(2).mean().clamp_min(1e-30))
    return make_checkpoint("flowturbo-refiner", ema, net_config, train_config=asdict(cfg), train_info=info)


def load_refiner(model: FlowModel, cfg: RefinerConfig | None = None, *, progress: bool = True,
                 refresh: bool = False) -> RefinerHandle:
    """The refiner for ``model``: memoised on the model, else from the disk cache, else trained."""
    cfg = cfg or RefinerConfig()
    if not isinstance(cfg, RefinerConfig):
        raise InvalidInputError(f"refiner_config must be a RefinerConfig, got {type(cfg).__name__}")
    memo = memo_for(model)
    key = ("flowturbo-refiner", cache.config_hash(asdict(cfg)))
    if key in memo and not refresh:
        return memo[key]
    fingerprint = model_fingerprint(model_in_dtype(model, torch.float32))
    if fingerprint is None:  # not identifiable by content: train, never share on disk
        ckpt, hit = train_refiner(model, cfg, progress=progress), False
        path = "<not cached>"
    else:
        file_key = cache.config_hash({"model": fingerprint, **asdict(cfg)})
        path = cache.cache_file("refiners", f"{model.name}-{file_key}.pt")
        ckpt, hit = cache.cached(path, lambda: train_refiner(model, cfg, progress=progress), refresh=refresh)
        validate_checkpoint(ckpt, path, expect_model="flowturbo-refiner")
    nc = ckpt["net_config"]
    net = load_state(make_refiner(tuple(nc["data_shape"]), nc["hidden"], nc["depth"]), ckpt["state_dict"], path)
    memo[key] = RefinerHandle(net, float(ckpt["train_info"]["seconds"]), hit, dict(ckpt["train_info"]))
    return memo[key]


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
           "make_refiner", "sample_flowturbo", "sample_pseudo_corrector", "train_refiner"]
