"""``cifar10`` (GPU): users' CIFAR-10 checkpoints x samplers x NFE; FID, LPIPS/PSNR/ref_rmse, wall clock.

    rfbench run cifar10 --checkpoint ddpm=/data/ddpm-cifar10-32 --set cifar10_root=/data/cifar10
    rfbench run cifar10 --smoke                  # the whole path on CPU, stand-ins only (CI)

Models come from ``--checkpoint NAME=PATH`` (repeatable): a diffusers folder saved with
``save_pretrained`` (e.g. a DDPM CIFAR-10 U-Net, loaded as a base diffusion model by
:mod:`rfbench.models.diffusers_adapter`) or an rfbench checkpoint file (through
``rfbench.models.register_checkpoint`` where that is available).

Per cell: ``n_samples`` (1,000) samples from the suite's noise are compared with the float64 dopri5
reference from the same noise (ref_rmse, PSNR, LPIPS, a sample grid) and timed (CUDA events,
median of 3 after a warm-up, the whole 1,000-sample batch); ``fid_n`` (50,000) further samples,
generated in batches of ``fid_batch`` from their own seeded noise, give FID against CIFAR-10
train statistics (all 50,000 training images, torch-fidelity's Inception, cached) and
precision/recall (10,000 vs 10,000, k = 3). Options (``--set key=value``): those of
:mod:`rfbench.runner.cell_metrics.images` plus ``checkpoints``, ``cifar10_root`` (else
$RFBENCH_CIFAR10_ROOT; the python version: ``ROOT/cifar-10-batches-py/data_batch_1..5``) and
``allow_missing`` (run without FID or its data instead of skipping). ``--smoke`` sets
``standin_model`` (a tiny random U-Net saved as a diffusers folder, stand-in reference images, no
GPU needed) and ``standin`` (random Inception and AlexNet weights: fd_unverified and
lpips_unverified, never fid / lpips); with it, ``--set fid_weights/lpips_weights/fid_ref`` are refused
(they would be replaced by the stand-ins).

Without a GPU, checkpoints, the CIFAR-10 data or the Inception weights the suite is skipped with
one line naming what is missing (exit status 0).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from pathlib import Path

import torch

from ..errors import CheckpointError, InvalidInputError, MissingResourceError, SuiteSkipped
from ..metrics.fid import FIDReference, register_fid_reference, resolve_inception_weights
from ..runner.cell_metrics import images as image_hooks
from ..runner.suite import ModelSpec, Suite, register_suite

ENV_CIFAR10 = "RFBENCH_CIFAR10_ROOT"
CIFAR10_FILES = [  # torchvision's CIFAR10.train_list: (file, md5) of the python version
    ("data_batch_1", "c99cafc152244af753f735de768cd75f"), ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
    ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"), ("data_batch_4", "634d18415352ddfa80567beed471001a"),
    ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
]
STANDIN_UNET = "tiny-unet-standin"


# -- the CIFAR-10 training set as an FID reference -------------------------------------------------------
def cifar10_root(options: dict) -> Path:
    root = options.get("cifar10_root") or os.environ.get(ENV_CIFAR10)
    if not root:
        raise MissingResourceError(f"CIFAR-10 data: no location given (--set cifar10_root=DIR or ${ENV_CIFAR10}; "
                                   "DIR/cifar-10-batches-py/data_batch_1..5, the python version)")
    folder = Path(root).expanduser() / "cifar-10-batches-py"
    absent = [f for f, _ in CIFAR10_FILES if not (folder / f).is_file()]
    if absent:
        raise MissingResourceError(f"CIFAR-10 data: {folder} lacks {', '.join(absent)} (expected the python version, "
                                   "cifar-10-python.tar.gz extracted)")
    return Path(root).expanduser()


def _cifar10_identity(options: dict) -> str:
    folder = cifar10_root(options) / "cifar-10-batches-py"
    for name, md5 in CIFAR10_FILES:
        digest = hashlib.md5((folder / name).read_bytes()).hexdigest()
        if digest != md5:
            raise MissingResourceError(f"CIFAR-10 data: {folder / name} has md5 {digest}, expected {md5} (corrupt or "
                                       "not the official python version)")
    return "cifar-10-python train md5 " + ",".join(md5[:8] for _, md5 in CIFAR10_FILES)


def _cifar10_train(options: dict) -> torch.Tensor:
    from torchvision.datasets import CIFAR10

    data = CIFAR10(str(cifar10_root(options)), train=True, download=False).data  # (50000, 32, 32, 3) uint8
    return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()


register_fid_reference(FIDReference("cifar10-train", "CIFAR-10 training set (50,000 images, python version, "
                                    "torchvision reader, md5-checked)", _cifar10_train, _cifar10_identity))


# -- models -------------------------------------------------------------------------------------------------
def standin_unet_dir() -> Path:
    """A tiny randomly initialised diffusers UNet2DModel at CIFAR shape (3x32x32) with a DDPM linear
    schedule, saved once under the cache: the --smoke stand-in for a user's checkpoint."""
    from .. import cache

    folder = cache.cache_dir("standins") / "tiny-unet-cifar-v2"
    if not (folder / "scheduler_config.json").is_file():
        from diffusers import DDPMScheduler, UNet2DModel

        torch.manual_seed(0)
        unet = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                           layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        unet.save_pretrained(str(tmp))
        DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").save_pretrained(str(tmp))
        if folder.exists():  # an incomplete earlier attempt
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    return folder


def register_checkpoints(text: str) -> list[ModelSpec]:
    """``NAME=PATH,NAME=PATH`` -> registered models, as ModelSpecs carrying the files' sha256."""
    from ..models import diffusers_adapter

    specs = []
    for item in [s for s in text.split(",") if s.strip()]:
        name, sep, path = item.partition("=")
        name, path = name.strip(), Path(path.strip()).expanduser()
        if not sep or not name or not str(path):
            raise InvalidInputError(f"--checkpoint expects NAME=PATH, got {item!r}")
        if not path.exists():
            raise CheckpointError(f"checkpoint {name}: {path} does not exist")
        if path.is_dir():
            diffusers_adapter.register_diffusers_checkpoint(name, path)
            specs.append(ModelSpec(name, options=(("sha256", diffusers_adapter.checkpoint_sha256(path)),)))
            continue
        from .. import models

        register = getattr(models, "register_checkpoint", None)
        if register is None:
            raise CheckpointError(f"checkpoint {name}: {path} is a file; rfbench-format checkpoints need "
                                  "rfbench.models.register_checkpoint, which this installation lacks (a diffusers "
                                  "folder works)")
        register(name, path)
        specs.append(ModelSpec(name))
    return specs


def _check_reference(ref: str, options: dict) -> None:
    if ref.endswith(".npz"):
        if not Path(ref).expanduser().is_file():
            raise MissingResourceError(f"FID reference statistics {ref} do not exist")
    elif ref == "cifar10-train":
        cifar10_root(options)


def _check_standin(o: dict) -> None:
    """With stand-in (random) weights, a user's weights or precomputed statistics would be silently
    ignored or compared with another network's features: refused, naming the way to use them."""
    if not o["standin"]:
        return
    given = [k for k in ("fid_weights", "lpips_weights") if o[k]]
    if str(o["fid_ref"]).endswith(".npz"):
        given.append("fid_ref")
    if given:
        what = "would be ignored" if given[0] != "fid_ref" else "hold another network's features"
        raise InvalidInputError(f"--set {given[0]}={o[given[0]]} cannot be used with the stand-in (random) weights of "
                                f"standin=1, which --smoke sets: it {what}; add --set standin=0 to use it")


def _prepare(suite: Suite, device: str) -> Suite:
    o = suite.options
    _check_standin(o)
    if o["standin_model"]:
        from ..models.diffusers_adapter import checkpoint_sha256

        folder = standin_unet_dir()
        specs = register_checkpoints(f"{STANDIN_UNET}={folder}")
        assert specs[0].options == (("sha256", checkpoint_sha256(folder)),)
        return dataclasses.replace(suite, models=specs)
    missing, fatal = [], False
    if torch.device(device).type != "cuda" or not torch.cuda.is_available():
        missing.append("a GPU (" + ("CUDA is not available" if not torch.cuda.is_available() else f"--device {device}")
                       + "; `rfbench run cifar10 --smoke` runs the path on CPU)")
        fatal = True
    specs = register_checkpoints(o["checkpoints"]) if o["checkpoints"] else []
    if not specs:
        missing.append("checkpoints (--checkpoint NAME=PATH: a diffusers folder saved with save_pretrained, or an "
                       "rfbench checkpoint)")
        fatal = True
    if "fid" in suite.metrics:
        ref = str(o["fid_ref"])
        for check in (lambda: _check_reference(ref, o), lambda: resolve_inception_weights(o["fid_weights"] or None)):
            try:
                check()
            except MissingResourceError as exc:
                missing.append(str(exc))
    if missing and (fatal or not o["allow_missing"]):
        raise SuiteSkipped("missing " + "; ".join(missing) + ("" if fatal else " (--set allow_missing=1 runs without)"))
    return dataclasses.replace(suite, models=specs)


CIFAR10 = register_suite(Suite(
    name="cifar10",
    description="CIFAR-10 (GPU): your checkpoints; FID 50k vs train (torch-fidelity), LPIPS/PSNR/ref_rmse to "
                "the reference on 1k, CUDA-event timing",
    models=[],
    samplers=["euler", "heun", "ddim", "edm-heun"],
    nfe=[2, 4, 8, 16, 32],
    n_samples=1000,
    n_data=0,
    metrics=("ref_rmse", "psnr", "lpips", "fid", "straightness", "wall_clock_s"),
    reference_tol=1e-5,
    artifacts=("sample_grid",),
    default_device="cuda",
    options={**image_hooks.DEFAULTS, "fid_ref": "cifar10-train", "checkpoints": "", "cifar10_root": "",
             "allow_missing": False, "standin_model": False, "standin_ref_size": 64, "image_size": 32},
    prepare=_prepare,
    smoke={"samplers": ["euler", "ddim"], "nfe": [2], "n_samples": 8, "default_device": "cpu",
           "reference_tol": 1e-3, "timing_repeats": 1,
           "options": {"standin": True, "standin_model": True, "fid_ref": "standin", "standin_ref_size": 32, "fid_n": 24, "fid_batch": 16,
                       "prc_n": 24, "inception_batch": 16}},
))
