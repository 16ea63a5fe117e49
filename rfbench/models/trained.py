"""Models rfbench trains itself: recipes, training, coupled pairs and the checkpoint cache.

A :class:`Recipe` is everything that determines a trained model (objective, data, network, schedule,
optimiser settings, seed, and for reflow-type models the parent's recipe and how its pairs were made).
Its hash keys the cached checkpoint, so a suite reuses a model trained earlier with the same recipe,
and a changed parent (or code version) trains a new one.

Catalogue (``FAMILIES``; every name is registered in :mod:`rfbench.models`):

==========================  =========  ======================================================================
name                        parent     objective (rfbench time, :mod:`rfbench.models.objectives`)
==========================  =========  ======================================================================
1-rf                        -          velocity regression, independent coupling, t ~ U[0, 1]
2-rf, 3-rf                  1-rf/2-rf  the same loss on (noise, ODE(noise)) pairs of the parent; init from it
2-rf-distill                2-rf       one-step distillation (k = 1, L2) on pairs of 2-rf
2-rf++                      1-rf       one round on 1-rf's pairs, U-shaped t (a = 4), pseudo-Huber (+LPIPS)
vp-diffusion                -          eps-prediction, VP linear schedule (beta 0.1..20), t ~ U[1e-3, 1]
rectified-diffusion         vp-diff.   paired-eps diffusion form, pseudo-Huber in x0 space (c = 0.001)
pfgmpp-d8, pfgmpp-d2048     -          PFGM++ kernel (D = 8 / 2048), EDM preconditioning and weighting
edm                         -          the same with D = inf (EDM)
==========================  =========  ======================================================================

Pairs are solved with the parent's own ODE by dopri5 (``PairSpec``: rtol = atol = 1e-5 by default,
float64 for vectors, float32 for images), starting from prior noise drawn with seed 20000 + seed, which
no suite uses for evaluation; the pair keeps that same noise (never a re-draw). Pairs are cached.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from .. import progress as _progress

from .. import cache
from ..data import get_dataset
from ..errors import InvalidInputError
from . import objectives as obj
from .base import FlowModel
from .checkpoints import make_checkpoint, validate_checkpoint
from .families import default_model_config, model_from_checkpoint
from .networks import build_network
from .schedules import schedule_from_config
from .training import init_seeded, train

TRAIN_CODE_VERSION = "trained-v1"  # bump when training code changes what a recipe produces
PAIRS_VERSION = 1
PAIR_SEED_OFFSET = 20_000  # pair noise seeds; suites draw evaluation noise from small seeds


@dataclass(frozen=True)
class Family:
    """A registered trained model: its objective, parameterisation, parent and fixed options."""

    name: str
    objective: str  # rf | reflow | rf++ | distill | eps | rd | edm
    param: str  # flow | vp-eps | edm
    family: str  # catalogue family shown by `rfbench list`
    description: str
    parent: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("1-rf", "rf", "flow", "rectified-flow",
           "1-rectified flow: velocity regression with independent coupling (Liu et al. 2022)"),
    Family("2-rf", "reflow", "flow", "rectified-flow",
           "2-rectified flow: 1-rf retrained on its own (noise, dopri5 endpoint) pairs", parent="1-rf"),
    Family("3-rf", "reflow", "flow", "rectified-flow", "3-rectified flow: reflow of 2-rf", parent="2-rf"),
    Family("2-rf-distill", "distill", "flow", "rectified-flow",
           "2-rf distilled for one Euler step (k = 1, L2 velocity loss at t = 1)", parent="2-rf"),
    Family("2-rf++", "rf++", "flow", "rectified-flow",
           "2-rectified flow++ (Lee et al. 2024): one reflow round from 1-rf, U-shaped t, pseudo-Huber",
           parent="1-rf"),
    Family("vp-diffusion", "eps", "vp-eps", "diffusion",
           "DDPM-style eps-prediction diffusion on the VP linear schedule (base of rectified-diffusion)"),
    Family("rectified-diffusion", "rd", "vp-eps", "rectified-diffusion",
           "Rectified Diffusion (Wang et al. 2024): vp-diffusion retrained on its paired (eps, x0)",
           parent="vp-diffusion"),
    Family("pfgmpp-d8", "edm", "edm", "pfgmpp", "PFGM++ (Xu et al. 2023), D = 8 (heavy-tailed kernel)",
           model_options={"D": 8.0}),
    Family("pfgmpp-d2048", "edm", "edm", "pfgmpp", "PFGM++, D = 2048 (close to EDM; CIFAR-10's D)",
           model_options={"D": 2048.0}),
    Family("edm", "edm", "edm", "pfgmpp", "EDM (Karras et al. 2022) = PFGM++ with D = inf", model_options={"D": math.inf}),
]}


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained model; ``hash()`` keys its checkpoint."""

    model: str
    objective: str
    data: str
    net: str
    net_config: dict[str, Any]
    model_config: dict[str, Any]
    steps: int
    batch: int
    lr: float
    ema: float = 0.999
    warmup: int = 100
    seed: int = 0
    n_train: int | None = None  # draws from a generated dataset (finite datasets use their train split)
    objective_options: dict[str, Any] = field(default_factory=dict)
    parent: Recipe | None = None
    pairs: dict[str, Any] | None = None  # PairSpec of the parent's coupling
    data_fingerprint: str | None = None
    code: str = TRAIN_CODE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hash(self) -> str:
        return cache.config_hash(self.to_dict())


# -- defaults ------------------------------------------------------------------------------------------


def _is_image(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3


def default_net(shape: tuple[int, ...]) -> tuple[str, dict]:
    """MLP for vectors; for images a U-Net with as many levels (up to 4) as keep a side >= 4."""
    # Fourier time features of frequencies 1 .. 8 (the networks' default, 64, makes a trained velocity
    # wiggle in t: a 2-RF's float64 dopri5 reference at tol 1e-10 took 2774 evaluations with 64 and
    # 974 / 542 with 16 / 4, at equal sample quality). EDM's c_noise = ln(sigma)/4 spans about
    # [-1.6, 1.1], where 8 also interpolates the rarely trained sigma_max = 80 smoothly.
    if len(shape) == 1:
        return "MLP", {"dim": shape[0], "hidden": 256, "depth": 3, "max_freq": 8.0}
    if _is_image(shape):
        c, h, w = shape
        if h != w:
            raise InvalidInputError(f"images must be square for the U-Net, got shape {shape}")
        levels = 1
        while levels < 4 and h % 2**levels == 0 and h // 2**levels >= 4:
            levels += 1
        return "UNet", {"channels": c, "base": 32, "mults": [1] + [2] * (levels - 1), "blocks": 1, "image_size": h,
                        "max_freq": 8.0}
    raise InvalidInputError(f"rfbench trains models on vectors (n,) or images (C, H, W); got data shape {shape}")


# Optimiser settings per data kind and objective. 2-D (MLP): ~20-40 s each on 2 CPU cores;
# digits (U-Net): ~0.8-1.6 min each, so that the digits suite's 7 models train within its 20-minute cold
# budget (scripts/bench_training.py prints the measured times).
_VECTOR = {"rf": dict(steps=4000, batch=1024, lr=2e-3), "reflow": dict(steps=3000, batch=1024, lr=1e-3),
           "rf++": dict(steps=3000, batch=1024, lr=1e-3), "distill": dict(steps=2000, batch=1024, lr=1e-3),
           "eps": dict(steps=4000, batch=1024, lr=2e-3), "rd": dict(steps=3000, batch=1024, lr=1e-3),
           "edm": dict(steps=5000, batch=1024, lr=2e-3)}
_IMAGE = {"rf": dict(steps=700, batch=128, lr=2e-3), "reflow": dict(steps=350, batch=128, lr=1e-3),
          "rf++": dict(steps=350, batch=128, lr=1e-3), "distill": dict(steps=300, batch=128, lr=1e-3),
          "eps": dict(steps=700, batch=128, lr=2e-3), "rd": dict(steps=350, batch=128, lr=1e-3),
          "edm": dict(steps=700, batch=128, lr=2e-3)}
_PAIRS_VECTOR = {"n": 10_000, "rtol": 1e-5, "atol": 1e-5, "dtype": "float32", "chunk": 10_000}
_PAIRS_IMAGE = {"n": 3000, "rtol": 1e-4, "atol": 1e-4, "dtype": "float32", "chunk": 500}


def lpips_status() -> tuple[bool, str]:
    """Whether real LPIPS (VGG16 backbone + lpips package) weights are present locally; never downloads."""
    from pathlib import Path

    try:
        import lpips  # noqa: F401
    except ImportError:
        return False, "the lpips package is not installed"
    vgg = Path(torch.hub.get_dir()) / "checkpoints" / "vgg16-397923af.pth"
    if not vgg.exists():
        return False, f"torchvision VGG16 weights not found at {vgg} (no downloads at run time)"
    return True, "lpips package (VGG, v0.1) with torchvision VGG16 weights"


def make_recipe(model: str, data: str | None = None, *, steps: int | None = None, seed: int = 0,
                net_config: dict | None = None, **overrides) -> Recipe:
    """The default recipe of catalogue model ``model`` on dataset ``data`` (parents built the same way)."""
    if model not in FAMILIES:
        raise InvalidInputError(f"no training recipe for model {model!r}; expected one of {', '.join(FAMILIES)}")
    fam = FAMILIES[model]
    data = data or "8gaussians"
    ds = get_dataset(data)
    shape = tuple(ds.shape)
    image = _is_image(shape)
    net, default_cfg = default_net(shape)
    cfg = {**default_cfg, **(net_config or {})}
    opt = dict((_IMAGE if image else _VECTOR)[fam.objective])
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InvalidInputError(f"steps must be a positive integer, got {steps!r}")
        opt["steps"] = steps
    options = dict(fam.model_options)
    obj_options: dict[str, Any] = {}
    if fam.param == "edm":
        # EDM's P_mean / sigma_data assume data of std 0.5 (images in [-1, 1]); the 2-D sets have a
        # per-coordinate std of about 1.1-1.4, so they use sigma_data = 1 and shift P_mean by ln(1 / 0.5).
        sd = 0.5 if image else 1.0
        options.setdefault("sigma_data", sd)
        obj_options.update(p_mean=-1.2 + math.log(options["sigma_data"] / 0.5), p_std=1.2, clip_upper=1e-3)
    if fam.objective == "rf++":
        ok, why = lpips_status() if image else (False, "LPIPS applies to images only")
        obj_options.update(a=4.0, premetric="lpips-huber" if ok else "huber",
                           lpips_note=why if ok else f"Huber only: {why}")
    if fam.objective == "rd":
        obj_options.update(huber_c=1e-3)
    model_config = default_model_config(fam.param, shape, dataset=data, **options)
    parent = pairs = None
    if fam.parent is not None:
        parent = make_recipe(fam.parent, data, seed=seed, net_config=net_config)
        pairs = dict(_PAIRS_IMAGE if image else _PAIRS_VECTOR, seed=PAIR_SEED_OFFSET + seed)
    fingerprint = cache.config_hash(ds.train_set()) if ds.finite else None
    recipe = Recipe(model=model, objective=fam.objective, data=data, net=net, net_config=cfg, model_config=model_config,
                    seed=seed, n_train=None if ds.finite else 50_000, objective_options=obj_options, parent=parent,
                    pairs=pairs, data_fingerprint=fingerprint, **opt)
    return replace(recipe, **overrides) if overrides else recipe


# -- coupled pairs ---------------------------------------------------------------------------------------


def solve_pairs(model: FlowModel, spec: dict, *, progress: bool = True, device: str | torch.device = "cpu") -> dict:
    """(noise, endpoint) pairs of ``model``'s ODE: dopri5 in chunks (the step size is shared within a
    chunk), from ``spec["n"]`` prior draws with seed ``spec["seed"]``. The noise is kept as drawn."""
    from ..samplers.adaptive import reference_solution

    dtype = getattr(torch, spec["dtype"])
    noise = model.sample_prior(spec["n"], seed=spec["seed"], dtype=torch.float64)
    model = model.to(device)
    ends, nfes = [], []
    start = time.perf_counter()
    chunks = noise.split(spec["chunk"])
    _progress.announce(f"reflow pairs of {model.name}: {spec['n']} dopri5 solves in {len(chunks)} chunks", show=progress)
    bar = _progress.bar(chunks, desc=f"pairs of {model.name}", unit="chunk", disable=not progress, leave=False, estimate=True)
    for chunk in bar:
        sol = reference_solution(model, chunk.to(device), rtol=spec["rtol"], atol=spec["atol"], dtype=dtype)
        ends.append(sol.x_end.to("cpu", torch.float32))
        nfes.append(sol.nfe)
        bar.set_postfix(nfe=sol.nfe, refresh=False)
    bar.close()
    model.to("cpu")
    return {"noise": noise.to(torch.float32), "x1": torch.cat(ends), "nfe": nfes,
            "seconds": time.perf_counter() - start, "spec": dict(spec)}


def load_pairs(recipe: Recipe, *, progress: bool = True, device: str | torch.device = "cpu") -> tuple[dict, bool]:
    """The cached pairs of ``recipe.parent`` under ``recipe.pairs`` (solved and cached on a miss)."""
    key = {"parent": recipe.parent.hash(), "spec": recipe.pairs, "v": PAIRS_VERSION}
    path = cache.cache_file("pairs", f"{recipe.parent.model}-{recipe.data}-{cache.config_hash(key)}.pt")

    def build():
        parent = load_trained(recipe.parent, progress=progress, device=device)
        return solve_pairs(parent, recipe.pairs, progress=progress, device=device)

    return cache.cached(path, build)


# -- training ---------------------------------------------------------------------------------------------


def _training_data(recipe: Recipe) -> torch.Tensor:
    ds = get_dataset(recipe.data)
    if ds.finite:
        return ds.train_set().to(torch.float32)
    return ds.sample(recipe.n_train, seed=1000 + recipe.seed).to(torch.float32)


def _lpips_fn(device):
    import lpips
    from torch.nn import functional as F

    net = lpips.LPIPS(net="vgg", pretrained=True, verbose=False).to(device).eval().requires_grad_(False)

    def fn(x_hat, x):  # images in [-1, 1], upsampled to 224 as rfpp does
        up = lambda z: F.interpolate(z.expand(-1, 3, -1, -1) if z.shape[1] == 1 else z, size=224, mode="bilinear")  # noqa: E731
        return net(up(x_hat), up(x)).flatten()

    return fn


def make_loss(recipe: Recipe, *, data: torch.Tensor | None, pairs: dict | None, device: torch.device):
    """``loss_fn(net, generator)`` for :func:`rfbench.models.training.train`: draws one batch on the
    CPU from the generator (deterministic), moves it to ``device`` and evaluates the objective."""
    o, opts, B = recipe.objective, recipe.objective_options, recipe.batch
    shape = tuple(recipe.model_config["data_shape"])
    if pairs is not None:
        z_all, x_all = pairs["noise"].to(device), pairs["x1"].to(device)
    else:
        x_all = data.to(device)
    schedule = schedule_from_config(recipe.model_config["schedule"]) if recipe.model_config.get("schedule") else None
    lpips = _lpips_fn(device) if opts.get("premetric") == "lpips-huber" else None

    def draw(gen):
        idx = torch.randint(0, len(x_all), (B,), generator=gen).to(device)
        if pairs is not None:
            return x_all[idx], z_all[idx]
        return x_all[idx], torch.randn((B, *shape), generator=gen).to(device)

    def loss_fn(net, gen):
        x0, z = draw(gen)
        if o in ("rf", "reflow"):
            return obj.rf_loss(x0, z, torch.rand(B, generator=gen).to(device), net)
        if o == "rf++":
            return obj.rfpp_loss(x0, z, obj.u_shaped_t(B, gen, opts["a"]).to(device), net, lpips)
        if o == "distill":
            return obj.distill_loss(x0, z, net)
        if o in ("eps", "rd"):
            t_min = recipe.model_config["t_min"]
            t = (t_min + (1 - t_min) * torch.rand(B, generator=gen)).to(device)
            if o == "eps":
                return obj.eps_loss(x0, z, t, net, schedule)
            return obj.rectified_diffusion_loss(x0, z, t, net, schedule, opts["huber_c"])
        if o == "edm":
            sigma = obj.edm_sigma(B, gen, opts["p_mean"], opts["p_std"])
            noise = obj.pfgmpp_noise(sigma, shape, recipe.model_config["D"], gen, opts["clip_upper"])
            return obj.edm_loss(x0, sigma.to(device), noise.to(device), net, recipe.model_config["sigma_data"])
        raise ValueError(f"unknown objective {o!r}")

    return loss_fn


def train_checkpoint(recipe: Recipe, *, progress: bool = True, device: str | torch.device = "cpu") -> dict:
    """Train ``recipe`` (loading or training its parent and pairs first) and return a checkpoint dict."""
    dev = torch.device(device)
    pairs, info_pairs = None, {}
    if recipe.pairs is not None:
        pairs, hit = load_pairs(recipe, progress=progress, device=dev)
        info_pairs = {"pairs_seconds": 0.0 if hit else pairs["seconds"], "pairs_cache_hit": hit,
                      "pairs_nfe_mean": sum(pairs["nfe"]) / len(pairs["nfe"])}
    if recipe.parent is not None:
        parent = load_trained(recipe.parent, progress=progress, device=dev)
        net = copy.deepcopy(parent.net).float()  # reflow / RD / distillation start from the parent
    else:
        net = init_seeded(lambda: build_network(recipe.net, recipe.net_config), recipe.seed)
    data = None if pairs is not None else _training_data(recipe)
    loss_fn = make_loss(recipe, data=data, pairs=pairs, device=dev)
    cpu = time.process_time()
    ema, info = train(net, loss_fn, steps=recipe.steps, lr=recipe.lr, seed=recipe.seed, ema_decay=recipe.ema,
                      warmup=recipe.warmup, device=dev, progress=progress,
                      desc=f"train {recipe.model} on {recipe.data}")
    # what the timing means: CPU seconds (all threads) and the machine's load while training
    info.update(info_pairs, device=str(dev), cpu_seconds=time.process_time() - cpu, threads=torch.get_num_threads(),
                load_avg=_load_avg())
    return make_checkpoint(recipe.model, ema, recipe.net_config, train_config=recipe.to_dict(), train_info=info,
                           config_hash=recipe.hash(), model_config=recipe.model_config)


def _load_avg() -> float | None:
    try:
        import os

        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def checkpoint_path(recipe: Recipe):
    return cache.cache_file("checkpoints", f"{recipe.model}-{recipe.data}-{recipe.hash()}.pt")


def load_trained(recipe: Recipe, *, progress: bool = True, device: str | torch.device = "cpu",
                 refresh: bool = False) -> FlowModel:
    """The model of ``recipe``: from the checkpoint cache, or trained (on ``device``) and cached.

    ``model.meta`` holds cache_hit, checkpoint (path), seconds (training time of this model alone,
    not counting its parent), pairs_seconds, final_loss and load_seconds.
    """
    start = time.perf_counter()
    path = checkpoint_path(recipe)
    ckpt, hit = cache.cached(path, lambda: train_checkpoint(recipe, progress=progress, device=device), refresh=refresh)
    validate_checkpoint(ckpt, path, expect_model=recipe.model)
    meta = {**ckpt.get("train_info", {}), "config_hash": recipe.hash(), "cache_hit": hit, "checkpoint": str(path),
            "train_config": ckpt.get("train_config", {})}
    model = model_from_checkpoint(ckpt, path, meta=meta)
    model.meta["load_seconds"] = time.perf_counter() - start
    return model


def trained_factory(name: str):
    """The registry factory of catalogue model ``name``."""

    def factory(data: str = "8gaussians", steps: int | None = None, seed: int = 0, device: str = "cpu",
                progress: bool = True, net_config: dict | None = None) -> FlowModel:
        return load_trained(make_recipe(name, data, steps=steps, seed=seed, net_config=net_config),
                            progress=progress, device=device)

    factory.__name__ = f"train_{name}"
    return factory


def trained_identity(name: str):
    """The registry identity of catalogue model ``name``: its recipe hash, known without training (the
    checkpoint is cached under it, and training is deterministic under the recipe's seed)."""

    def identity(data: str = "8gaussians", steps: int | None = None, seed: int = 0, device: str = "cpu",
                 progress: bool = True, net_config: dict | None = None) -> str:
        return make_recipe(name, data, steps=steps, seed=seed, net_config=net_config).hash()

    return identity
