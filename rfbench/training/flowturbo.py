"""FlowTurbo's velocity refiner (Zhao, Shi, Yu, Zhou & Lu 2024, arXiv 2409.18128), trained per model
on the model's own trajectories (data-free) and cached; the sampler is :mod:`rfbench.samplers.flowturbo`,
the networks :mod:`rfbench.models.nets.refiner`.

Training (docs/flowturbo.md#training: the official target adapted to rfbench time):

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

The refiner is trained once per model content and config, cached on disk and in the process.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .. import cache
from ..errors import InvalidInputError, NotApplicableError
from ..identity import memo_for
from ..models.base import FlowModel
from ..models.grids import make_grid
from ..models.nets.refiner import make_refiner
from ..models.ode import fixed_trajectory
from .fit import FitProblem, fit_to_own_trajectories
from .loop import init_seeded

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
    states, _ = fixed_trajectory(teacher, x, ts, "heun")  # (pool_steps + 1, n_traj, ...)
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


def load_refiner(model: FlowModel, cfg: RefinerConfig | None = None, *, progress: bool = True,
                 refresh: bool = False) -> RefinerHandle:
    """The refiner for ``model``: memoised on the model, else from the disk cache, else trained against
    ``model``'s own velocity: regress v_T + r(x', t'; v_T) on v(x', t') (MSE) over
    :func:`refiner_examples` (:func:`rfbench.training.fit.fit_to_own_trajectories`)."""
    cfg = cfg or RefinerConfig()
    if not isinstance(cfg, RefinerConfig):
        raise InvalidInputError(f"refiner_config must be a RefinerConfig, got {type(cfg).__name__}")
    memo = memo_for(model)
    key = ("flowturbo-refiner", cache.config_hash(asdict(cfg)))
    if key in memo and not refresh:
        return memo[key]
    if model.data_shape is None:
        raise NotApplicableError(f"model {model.name!r} does not know its data shape, so no refiner can be built")

    def loss(refiner, gen, data):
        i = torch.randint(0, cfg.n_pairs, (cfg.batch,), generator=gen).to(data["v"].device)
        return (data["v"][i] + refiner(data["x"][i], data["t"][i], data["v"][i]) - data["target"][i]).pow(2).mean()

    def explained(stage, refiner, data) -> dict:
        if stage == "before":
            return {}
        # how much of the velocity change the refiner explains (1 = all)
        held = {k: v[-4096:] for k, v in data.items()}
        resid = (held["v"] + refiner(held["x"], held["t"], held["v"]) - held["target"]).pow(2).mean()
        return {"explained": float(1 - resid / (held["v"] - held["target"]).pow(2).mean().clamp_min(1e-30))}

    def rebuild(ckpt: dict) -> nn.Module:
        nc = ckpt["net_config"]
        return make_refiner(tuple(nc["data_shape"]), nc["hidden"], nc["depth"])

    shape = tuple(model.data_shape)
    problem = FitProblem(
        kind="flowturbo-refiner", folder="refiners", file_name=lambda k: f"{model.name}-{k}.pt", key_name="model",
        identify=lambda m: m.in_dtype(torch.float32).fingerprint(), teacher=lambda m: m.in_dtype(torch.float32).eval(),
        examples=lambda teacher, device: refiner_examples(teacher, cfg, device),
        student=lambda: (init_seeded(lambda: make_refiner(shape, cfg.hidden, cfg.depth), cfg.seed),
                         {"data_shape": list(shape), "hidden": cfg.hidden, "depth": cfg.depth}),
        loss=loss, rebuild=rebuild, desc=f"FlowTurbo refiner for {model.name}", diagnose=explained, seconds="total")
    fit = fit_to_own_trajectories(model, problem, cfg, progress=progress, refresh=refresh)
    info = fit.ckpt["train_info"]
    memo[key] = RefinerHandle(fit.net, float(info["seconds"]), fit.cache_hit, dict(info))
    return memo[key]


__all__ = ["RefinerConfig", "RefinerHandle", "load_refiner", "refiner_examples"]
