"""Recipes of the models rfbench trains itself: what determines each trained model.

A :class:`Recipe` is everything that determines a trained model (objective, data, network, schedule,
optimiser settings, seed, and for reflow-type models the parent's recipe and how its pairs were made).
Its hash keys the cached checkpoint, so a suite reuses a model trained earlier with the same recipe,
and a changed parent (or code version) trains a new one.

Catalogue (``FAMILIES``; every name is registered in the model registry by :mod:`rfbench.training.catalogue`):

==========================  =========  ======================================================================
name                        parent     objective (rfbench time, :mod:`rfbench.training.objectives`)
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

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from ..data import get_dataset
from ..errors import InvalidInputError
from ..identity import config_hash
from ..models.families import default_model_config

TRAIN_CODE_VERSION = "trained-v1"  # bump when training code changes what a recipe produces
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
        return config_hash(self.to_dict())


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
    fingerprint = config_hash(ds.train_set()) if ds.finite else None
    recipe = Recipe(model=model, objective=fam.objective, data=data, net=net, net_config=cfg, model_config=model_config,
                    seed=seed, n_train=None if ds.finite else 50_000, objective_options=obj_options, parent=parent,
                    pairs=pairs, data_fingerprint=fingerprint, **opt)
    return replace(recipe, **overrides) if overrides else recipe
