"""BOSS: Bellman Optimal Step-size Straightening (Nguyen, Nguyen & Nguyen 2023, arXiv 2312.16414): its
calibration (stage 1) and fine-tune (stage 2). The sampler ``boss`` and the grid ``bellman`` are in
:mod:`rfbench.samplers.boss`.

**Stage 1** (sampler ``boss``, grid ``bellman``): the N times of an N-step Euler sampler, chosen
by dynamic programming over a fine grid, as in the official code (nguyenngocbaocmt02/BOSS):

* fine grid t_0 = t_max > t_1 > ... > t_K = t_min, uniform in rfbench time (``base_grid``), K = 100;
* reference trajectories: M = 100 calibration noises, drawn with ``CALIB_SEED`` (never a suite's
  evaluation seed), integrated by **Euler on the fine grid** (the official code's reference; a
  tighter solver would change the costs, not the method), keeping states x_j and v_j = v(x_j, t_j);
* cost of one Euler jump from reference state i to reference state j > i:

      C[i, j] = mean_m || x_i + (t_j - t_i) v_i - x_j ||^2     (squared L2 summed over dimensions)

  Each jump starts on the reference, so costs are local errors and add along a path;
* Bellman recursion for N steps: V_1(i) = C[i, K], V_n(i) = min_{i<j<K} C[i, j] + V_{n-1}(j);
  V_N(0) and its argmins give 0 = k_0 < k_1 < ... < k_N = K, the grid t_{k_0}, ..., t_{k_N}.
  O(N K^2). Euler on a non-uniform grid stays order 1: BOSS changes the error constant.

The cost matrix is computed once per (model, K, M, seed, base grid), cached on disk and in the
process, and shared by every N; the DP's answer is memoised per N. Rows get ``calib_s`` (seconds
the calibration took when it was computed) and ``calib_cached`` (read from the disk cache);
``wall_clock_s`` is sampling only.

Measured (docs/boss.md#when-it-helps): on the VP oracle the Bellman grid cuts the error by about
4x at NFE 4 and 8; on the rectified-flow path it is slightly worse than the uniform grid (the
summed local cost ignores that errors made early are contracted on the way to the data).

**Stage 2** (model ``1-rf+boss``, :func:`redress`): a full fine-tune of the velocity network on
its own Euler trajectories (data-free): at each Bellman node k_n it is regressed onto the chord to
the next node, (x_{k_{n+1}} - x_{k_n}) / (t_{k_{n+1}} - t_{k_n}), which straightens the flow for
that N-step grid. The new checkpoint is cached per (base model, N, settings); the model carries its
stage-1 grid, which ``boss`` uses at that N. Network models only.
"""

from __future__ import annotations

import copy
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import cache
from .. import progress as _progress
from ..errors import InvalidInputError, NotApplicableError
from ..identity import memo_for
from ..models.base import FlowModel
from ..models.families import NetworkFlow
from ..models.grids import make_grid
from ..models.ode import fixed_trajectory
from .fit import FitProblem, fit_to_own_trajectories

BOSS_CODE_VERSION = "boss-v1"  # bump when the calibration changes what a config produces
CALIB_SEED = 20_231_227  # calibration noise; suites evaluate on seeds 0, 1, ... (held-out data: 10_000)
CALIB_OPTIONS = {"K": 100, "M": 100, "calib_seed": CALIB_SEED, "base_grid": "uniform"}


@dataclass
class Calibration:
    """Stage-1 result for one model and setting.

    ts: (K+1,) fine grid, float64, decreasing; cost: (K+1, K+1) float64, cost[i, j] the Euler-jump
    cost for i < j and +inf elsewhere; seconds: time the calibration took when it was computed;
    cache_hit: read from the disk cache.
    """

    ts: torch.Tensor
    cost: torch.Tensor
    seconds: float
    cache_hit: bool
    config: dict
    _solved: dict = field(default_factory=dict, repr=False)

    def solve(self, n: int) -> tuple[list[int], float]:
        """Bellman nodes and cost for n steps, memoised (so timed sampling calls skip the DP)."""
        if n not in self._solved:
            self._solved[n] = bellman_nodes(self.cost, n)
        return self._solved[n]


def euler_reference(model: FlowModel, x: torch.Tensor, ts: torch.Tensor, *, keep: list[int] | None = None,
                    progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Euler on the fine grid ``ts`` (K+1 times) from x: states (K+1, M, ...) and velocities
    (K, M, ...); with ``keep``, only the states at those indices and no velocities."""
    states, vels = fixed_trajectory(model, x, ts, "euler", keep=keep, velocities=keep is None,
                                    desc=f"BOSS reference ({model.name})", progress=progress)
    return states, (vels if vels is not None else torch.empty(0))


def jump_costs(states: torch.Tensor, velocities: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """C[i, j] = mean over samples of ||x_i + (t_j - t_i) v_i - x_j||^2 (summed over dimensions)
    for i < j, +inf elsewhere. states: (K+1, M, ...), velocities: (K, M, ...), ts: (K+1,)."""
    K = len(ts) - 1
    flat_x = states.flatten(2).to(torch.float64)
    flat_v = velocities.flatten(2).to(torch.float64)
    ts = ts.to(device=flat_x.device, dtype=torch.float64)
    cost = torch.full((K + 1, K + 1), float("inf"), dtype=torch.float64)
    for i in range(K):
        dt = (ts[i + 1:] - ts[i])[:, None, None]  # (K - i, 1, 1)
        jump = flat_x[i][None] + dt * flat_v[i][None] - flat_x[i + 1:]
        cost[i, i + 1:] = jump.pow(2).sum(-1).mean(-1).cpu()
    return cost


def bellman_nodes(cost: torch.Tensor, n: int) -> tuple[list[int], float]:
    """The n-jump path 0 = k_0 < ... < k_n = K minimising the summed cost, and that cost.

    cost: (K+1, K+1) with +inf where j <= i. Dynamic programming, O(n K^2).
    """
    K = cost.shape[0] - 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= K:
        raise InvalidInputError(f"BOSS needs 1 <= N <= K = {K} steps on its fine grid, got N = {n!r}; "
                                "raise K (option K=) for more steps")
    value = cost[:, K].clone()  # V_1(i): jump straight to the end
    argmins = []
    for _ in range(n - 1):
        # V_m(i) = min_j C[i, j] + V_{m-1}(j); V_{m-1}(K) = inf excludes j = K, C excludes j <= i
        value, arg = (cost + value[None, :]).min(dim=1)
        argmins.append(arg)
    nodes = [0]
    for arg in reversed(argmins):
        nodes.append(int(arg[nodes[-1]]))
    nodes.append(K)
    return nodes, float(value[0])


def brute_force_nodes(cost: torch.Tensor, n: int) -> tuple[list[int], float]:
    """Exhaustive search over all n-jump paths (for tests on small K)."""
    K = cost.shape[0] - 1
    best = (None, float("inf"))
    for inner in itertools.combinations(range(1, K), n - 1):
        nodes = [0, *inner, K]
        total = sum(float(cost[a, b]) for a, b in zip(nodes[:-1], nodes[1:]))
        if total < best[1]:
            best = (nodes, total)
    return best


def calibration_options(options: dict) -> dict:
    unknown = sorted(set(options) - set(CALIB_OPTIONS))
    if unknown:
        raise InvalidInputError(f"sampler 'boss' does not take option(s) {unknown}; "
                                f"its options are {sorted(CALIB_OPTIONS)}")
    opts = {**CALIB_OPTIONS, **options}
    for key in ("K", "M"):
        if isinstance(opts[key], bool) or not isinstance(opts[key], int) or opts[key] < 1:
            raise InvalidInputError(f"BOSS option {key} must be a positive integer, got {opts[key]!r}")
    return opts


def calibrate(model: FlowModel, *, K: int = 100, M: int = 100, calib_seed: int = CALIB_SEED,
              base_grid: str = "uniform", dtype: torch.dtype = torch.float64, progress: bool = True) -> Calibration:
    """Stage 1's cost matrix for ``model``: memoised on the model, cached on disk by content."""
    cfg = {"K": K, "M": M, "seed": calib_seed, "base_grid": base_grid, "dtype": str(dtype), "v": BOSS_CODE_VERSION}
    memo = memo_for(model)
    key = ("boss", cache.config_hash(cfg))
    if key in memo:
        return memo[key]
    calib_model = model.in_dtype(dtype)

    def build() -> dict:
        start = time.perf_counter()
        _progress.announce(f"BOSS calibration of {model.name}: {K} Euler steps on {M} paths", show=progress)
        ts = make_grid(base_grid, K, calib_model)
        noise = calib_model.sample_prior(M, seed=calib_seed, dtype=dtype, device=calib_model.device)
        states, vels = euler_reference(calib_model, noise, ts, progress=progress)
        cost = jump_costs(states, vels, ts)
        return {"ts": ts, "cost": cost, "seconds": time.perf_counter() - start, "config": cfg}

    fingerprint = calib_model.fingerprint()
    if fingerprint is None:  # a model we cannot identify by content: compute, never share on disk
        out, hit = build(), False
    else:
        path = cache.cache_file("boss", f"{model.name}-{cache.config_hash({'model': fingerprint, **cfg})}.pt")
        out, hit = cache.cached(path, build)
    memo[key] = Calibration(out["ts"], out["cost"], float(out["seconds"]), hit, cfg)
    return memo[key]


# -- stage 2: the straightening fine-tune ("redress") --------------------------------------------

REDRESS_CODE_VERSION = "boss-redress-v1"
REDRESS_SEED_OFFSET = 7_919  # fine-tune trajectories use calib_seed + this (not the calibration noise)


@dataclass(frozen=True)
class RedressConfig:
    """Settings of the fine-tune (paper defaults where they fit a CPU budget; see docs/boss.md)."""

    nfe: int = 4
    K: int = 100
    M: int = 100
    n_traj: int = 5000  # the official NSAMPLES
    holdout: float = 0.1  # as the official code: 10% of the tuples held out
    steps: int = 1500
    batch: int = 512
    lr: float = 5e-4
    ema: float = 0.995
    seed: int = 0
    code: str = REDRESS_CODE_VERSION


class RedressedFlow(NetworkFlow):
    """A network flow fine-tuned by BOSS stage 2 for the N-step Bellman grid it carries.

    boss_nfe: N; boss_grid: (N+1,) float64 times (the base model's stage-1 grid); boss_info:
    columns for result rows (stage-1 and fine-tune seconds, nodes).
    """

    def __init__(self, net, *, boss_nfe: int, boss_grid: torch.Tensor, boss_info: dict, **kw):
        super().__init__(net, **kw)
        self.boss_nfe, self.boss_grid, self.boss_info = int(boss_nfe), boss_grid, dict(boss_info)

    def config(self):
        return {**super().config(), "boss_nfe": self.boss_nfe}


def redress(base: FlowModel, cfg: RedressConfig | None = None, *, progress: bool = True,
            refresh: bool = False) -> RedressedFlow:
    """BOSS stage 2 on a network model: its fine-tuned copy for ``cfg.nfe`` Euler steps (cached)."""
    cfg = cfg or RedressConfig()
    net = getattr(base, "net", None)
    if not isinstance(base, NetworkFlow) or not any(True for _ in net.parameters()):
        raise NotApplicableError(
            f"BOSS's straightening fine-tune trains a velocity network; model {base.name!r} has none "
            "(analytic or function models have no weights to fine-tune)")
    if base.prediction != "velocity":
        raise NotApplicableError(
            f"BOSS's fine-tune regresses velocities; model {base.name!r} predicts {base.prediction}")
    calib = calibrate(base, K=cfg.K, M=cfg.M, progress=progress)
    nodes, _ = calib.solve(cfg.nfe)
    grid = calib.ts[nodes]
    n_hold = max(1, int(cfg.holdout * cfg.n_traj))
    times = grid.to(device=base.device, dtype=torch.float32)

    def examples(teacher: FlowModel, device: torch.device) -> dict[str, torch.Tensor]:
        # states at the Bellman nodes of the teacher's Euler trajectories on the fine grid, (N+1, n, ...)
        noise = teacher.sample_prior(cfg.n_traj, seed=CALIB_SEED + REDRESS_SEED_OFFSET + cfg.seed,
                                     dtype=torch.float64, device=device)
        states, _ = euler_reference(teacher, noise, calib.ts, keep=nodes, progress=progress)
        states = states.float()
        return {"train": states[:, n_hold:], "held": states[:, :n_hold]}

    def chord_loss(model_net, xs, idx, n):
        x_a, x_b = xs[n, idx], xs[n + 1, idx]
        t_a, t_b = times[n], times[n + 1]
        chord = (x_b - x_a) / (t_b - t_a).reshape(-1, *([1] * (x_a.ndim - 1)))
        return (model_net(x_a, t_a) - chord).pow(2).mean()

    def heldout(model_net, xs) -> float:
        with torch.no_grad():
            idx = torch.arange(n_hold, device=times.device).repeat(cfg.nfe)
            n = torch.arange(cfg.nfe, device=times.device).repeat_interleave(n_hold)
            return float(chord_loss(model_net, xs["held"], idx, n))

    def loss(model_net, gen, xs):
        idx = torch.randint(0, xs["train"].shape[1], (cfg.batch,), generator=gen).to(times.device)
        n = torch.randint(0, cfg.nfe, (cfg.batch,), generator=gen).to(times.device)
        return chord_loss(model_net, xs["train"], idx, n)

    problem = FitProblem(
        kind=f"{base.name}+boss", folder="checkpoints", file_name=lambda key: f"{base.name}+boss-N{cfg.nfe}-{key}.pt",
        key_name="base", identify=lambda m: m.fingerprint(), require_cache="BOSS's fine-tune is cached by the base model's content",
        teacher=lambda m: m.in_dtype(torch.float64), examples=examples,
        student=lambda: (copy.deepcopy(net).float(), {"base": base.name}), loss=loss,
        rebuild=lambda ckpt: copy.deepcopy(net).float(), desc=f"BOSS fine-tune {base.name} N={cfg.nfe}",
        diagnose=lambda stage, model_net, xs: {f"heldout_loss_{stage}": heldout(model_net, xs)},
        info={"calib_s": calib.seconds}, extra={"grid": grid, "nodes": nodes}, with_key=True)
    fit = fit_to_own_trajectories(base, problem, cfg, progress=progress, refresh=refresh)
    ckpt, info = fit.ckpt, fit.ckpt["train_info"]
    boss_info = {"calib_s": info["calib_s"], "calib_cached": calib.cache_hit, "redress_s": info["seconds"],
                 "redress_cached": fit.cache_hit,
                 "boss_K": cfg.K, "boss_M": cfg.M, "boss_nodes": ",".join(map(str, ckpt["nodes"])),
                 "grid_source": f"stage 1 on {base.name}"}
    meta = {"config_hash": fit.key, "cache_hit": fit.cache_hit, "checkpoint": str(fit.path), "base": base.config(), **info}
    return RedressedFlow(fit.net.eval(), name=f"{base.name}+boss", dataset=getattr(base, "dataset", None),
                         data_shape=base.data_shape, schedule=base.schedule, prior=base.prior, t_max=base.t_max,
                         t_min=base.t_min, eval_at_t_min=base.eval_at_t_min, meta=meta,
                         boss_nfe=cfg.nfe, boss_grid=ckpt["grid"].to(torch.float64), boss_info=boss_info)


__all__: list[Any] = ["CALIB_OPTIONS", "CALIB_SEED", "Calibration", "RedressConfig", "RedressedFlow", "bellman_nodes",
                      "brute_force_nodes", "calibrate", "calibration_options", "euler_reference", "jump_costs",
                      "redress"]
