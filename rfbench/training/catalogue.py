"""The trained catalogue: training a recipe, the checkpoint cache, and the registration of every
trained model (the ``FAMILIES`` of :mod:`rfbench.training.recipes`, and ``1-rf+boss``) in the model
registry.

A recipe's hash keys its cached checkpoint, so a suite reuses a model trained earlier with the same
recipe, and a changed parent (or code version) trains a new one. Reflow-type models train on their
parent's coupled pairs (:mod:`rfbench.training.pairs`), cached too.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict

import torch

from .. import cache
from ..data import DATASETS, get_dataset
from ..models.base import FlowModel
from ..models.formats.rfbench import make_checkpoint, validate_checkpoint
from ..models.families import model_from_checkpoint
from ..models.nets import build_network
from ..models.registry import ModelEntry, register_model
from ..models.schedules import schedule_from_config
from . import objectives as obj
from .loop import init_seeded, train
from .pairs import PAIRS_VERSION, solve_pairs
from .boss import BOSS_CODE_VERSION, CALIB_SEED, RedressConfig, RedressedFlow, redress
from .recipes import FAMILIES, Recipe, make_recipe


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
    """``loss_fn(net, generator)`` for :func:`rfbench.training.loop.train`: draws one batch on the
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


TRAIN_DATASETS = ("8gaussians", "moons", "checkerboard", "digits")
for _fam in FAMILIES.values():
    register_model(ModelEntry(_fam.name, trained_factory(_fam.name), _fam.family, "trained", _fam.description,
                              datasets=TRAIN_DATASETS, default_data="8gaussians",
                              data_check=lambda d: d in DATASETS, identity=trained_identity(_fam.name)))


# -- 1-rf+boss: the trained 1-rf fine-tuned by BOSS stage 2 ----------------------------------------------

def _rf_boss_factory(data: str = "8gaussians", nfe: int = 4, steps: int | None = None, seed: int = 0,
                     progress: bool = True) -> RedressedFlow:
    base = load_trained(make_recipe("1-rf", data, seed=seed), progress=progress)
    return redress(base, RedressConfig(nfe=int(nfe), **({"steps": int(steps)} if steps else {})), progress=progress)


def _rf_boss_identity(data: str = "8gaussians", nfe: int = 4, steps: int | None = None, seed: int = 0,
                      progress: bool = True) -> str:
    """1-rf+boss without training it: the base's recipe hash and the fine-tune's settings."""
    cfg = RedressConfig(nfe=int(nfe), **({"steps": int(steps)} if steps else {}))
    return cache.config_hash({"base": make_recipe("1-rf", data, seed=seed).hash(), "redress": asdict(cfg),
                              "calibration": [CALIB_SEED, BOSS_CODE_VERSION]})


register_model(ModelEntry(
    "1-rf+boss", _rf_boss_factory, "rectified-flow", "trained",
    "1-rf fine-tuned by BOSS stage 2 for N Euler steps on its Bellman grid (option nfe, default 4; cached)",
    datasets=("8gaussians", "moons", "checkerboard"), default_data="8gaussians", identity=_rf_boss_identity))
