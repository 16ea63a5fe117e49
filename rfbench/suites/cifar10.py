"""``cifar10`` (GPU): users' CIFAR-10 checkpoints x samplers x NFE; FID, LPIPS/PSNR/ref_rmse, wall clock.

    rfbench run cifar10 --checkpoint ddpm=/data/ddpm-cifar10-32 --set cifar10_root=/data/cifar10
    rfbench run cifar10 --smoke                  # the whole path on CPU, stand-ins only (CI)

Models come from ``--checkpoint NAME=PATH`` (repeatable), through
:func:`rfbench.models.formats.register_checkpoint` (format detected from the file): the released
RectifiedFlow / score_sde / EDM / PFGM++ / 2-RF++ files, a diffusers folder saved with
``save_pretrained`` (e.g. a DDPM CIFAR-10 U-Net), or an rfbench checkpoint. Each model carries its
content's sha256 (a changed file is refused and recomputed, never reused).

Per cell: ``n_samples`` (1,000) samples from the suite's noise are compared with the float64 dopri5
reference from the same noise (ref_rmse, PSNR, LPIPS, a sample grid) and timed (CUDA events,
median of 3 after a warm-up, the whole 1,000-sample batch); ``fid_n`` (50,000) further samples,
generated in batches of ``fid_batch`` from their own seeded noise, give FID against CIFAR-10
train statistics (all 50,000 training images, torch-fidelity's Inception, cached) and
precision/recall (10,000 vs 10,000, k = 3). Options (``--set key=value``): those of
:mod:`rfbench.runner.cell_metrics.images` plus ``checkpoints``, ``cifar10_root`` (else
$RFBENCH_CIFAR10_ROOT; the python version: ``ROOT/cifar-10-batches-py/data_batch_1..5``) and
``allow_missing`` (run without FID or its data instead of skipping), ``allow_cpu`` (run on the
given device even without a GPU: small models and sample counts only). ``--smoke`` sets
``standin_model`` (a tiny random NCSN++ saved in RectifiedFlow's released ``checkpoint_N.pth`` layout
and read back through the released-format loader, or with ``standin_format=diffusers`` a tiny random
U-Net saved as a diffusers folder; with ``--checkpoint`` your models instead; stand-in reference
images, no GPU needed) and ``standin`` (random Inception and AlexNet weights: fd_unverified and
lpips_unverified, never fid / lpips); with it, ``--set fid_weights/lpips_weights/fid_ref`` are refused
(they would be replaced by the stand-ins).

Without a GPU, checkpoints, the CIFAR-10 data or the Inception weights the suite is skipped with
one line naming what is missing (exit status 0).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import torch

from ..errors import CheckpointError, InvalidInputError, MissingResourceError, SuiteSkipped
from ..metrics.fid import FIDReference, register_fid_reference, resolve_inception_weights
from ..runner.cell_metrics import images as image_hooks
from ..runner.suite import ModelSpec, Suite, register_suite

ENV_CIFAR10 = "RFBENCH_CIFAR10_ROOT"
STANDIN_UNET = "tiny-unet-standin"


# -- the CIFAR-10 training set as an FID reference -------------------------------------------------------
def cifar10_root(options: dict) -> Path:
    from ..data.images import cifar10_folder

    root = options.get("cifar10_root") or os.environ.get(ENV_CIFAR10)
    if not root:
        raise MissingResourceError(f"CIFAR-10 data: no location given (--set cifar10_root=DIR or ${ENV_CIFAR10}; "
                                   "DIR/cifar-10-batches-py/data_batch_1..5, the python version)")
    try:
        cifar10_folder(root, "train")
    except InvalidInputError as exc:
        raise MissingResourceError(f"CIFAR-10 data: {exc}") from None
    return Path(root).expanduser()


def _cifar10_identity(options: dict) -> str:
    from ..data.images import cifar10_identity

    try:
        return cifar10_identity(cifar10_root(options), "train")
    except InvalidInputError as exc:
        raise MissingResourceError(f"CIFAR-10 data: {exc}") from None


def _cifar10_train(options: dict) -> torch.Tensor:
    from ..data.images import load_cifar10

    return load_cifar10(cifar10_root(options), "train", uint8=True)[0]  # (50000, 3, 32, 32) uint8


register_fid_reference(FIDReference("cifar10-train", "CIFAR-10 training set (50,000 images, python version, "
                                    "numpy-only reader, md5-checked)", _cifar10_train, _cifar10_identity))


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


STANDIN_NCSNPP = "tiny-unet-standin"  # the --smoke model's name (results, sample folders)
# a tiny NCSN++ in RectifiedFlow's DDPM++ settings (score_sde's field names): 2 levels, nf 16
STANDIN_NCSNPP_CONFIG = dict(image_size=32, num_channels=3, centered=True, nf=16, ch_mult=[1, 2], num_res_blocks=1,
                             attn_resolutions=[16], resamp_with_conv=True, conditional=True, fir=False,
                             fir_kernel=[1, 3, 3, 1], skip_rescale=True, resblock_type="biggan", progressive="none",
                             progressive_input="none", progressive_combine="sum", embedding_type="positional",
                             fourier_scale=16, scale_by_sigma=False, nonlinearity="swish", dropout=0.0)


def standin_released_file() -> Path:
    """A tiny randomly initialised NCSN++ (3x32x32) saved in RectifiedFlow's ``checkpoint_N.pth`` layout,
    once under the cache: the --smoke stand-in for a released checkpoint, read back by the same loader."""
    from .. import cache
    from ..models.formats.score_sde import write_checkpoint
    from ..models.nets import NCSNpp, NCSNppConfig
    from ..models.nets.layers import init_random_

    path = cache.cache_dir("standins") / "tiny-ncsnpp-rf-cifar-v1.pth"
    if not path.is_file():
        net = NCSNpp(config=NCSNppConfig.from_dict(dict(STANDIN_NCSNPP_CONFIG), source="stand-in"))
        init_random_(net, torch.Generator().manual_seed(0))
        write_checkpoint(path, net, step=0)
    return path


def register_checkpoints(text: str) -> list[ModelSpec]:
    """``NAME=PATH,NAME=PATH`` (registered here) or ``NAME`` (a checkpoint the CLI registered already)
    -> ModelSpecs carrying the content's sha256 (a file changed since is refused)."""
    from ..models import MODELS
    from ..models.formats import checkpoint_digest, parse_checkpoint_args, register_checkpoint, registered_checkpoint

    specs = []
    for item in [s.strip() for s in text.split(",") if s.strip()]:
        if "=" not in item:
            found = registered_checkpoint(item) if item in MODELS else None
            if found is None:
                raise InvalidInputError(f"--checkpoint expects NAME=PATH (or the name of a registered checkpoint), "
                                        f"got {item!r}")
            specs.append(ModelSpec(item, options=(("sha256", checkpoint_digest(found)),)))
            continue
        [(name, path)] = parse_checkpoint_args([item])
        if not path.exists():
            raise CheckpointError(f"checkpoint {name}: {path} does not exist")
        register_checkpoint(name, path, replace=True)
        specs.append(ModelSpec(name, options=(("sha256", checkpoint_digest(path)),)))
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
    if o["standin_model"] and not o["checkpoints"]:  # --smoke without --checkpoint: a stand-in model
        if o["standin_format"] == "diffusers":
            specs = register_checkpoints(f"{STANDIN_UNET}={standin_unet_dir()}")
        elif o["standin_format"] == "score-sde":
            from ..models.formats import checkpoint_digest, register_checkpoint

            path = standin_released_file()
            register_checkpoint(STANDIN_NCSNPP, path, config=STANDIN_NCSNPP_CONFIG, sde="rectified_flow", replace=True,
                                description="stand-in: tiny random NCSN++ in RectifiedFlow's released file layout")
            specs = [ModelSpec(STANDIN_NCSNPP, options=(("sha256", checkpoint_digest(path)),))]
        else:
            raise InvalidInputError(f"option standin_format={o['standin_format']!r}: expected score-sde or diffusers")
        return dataclasses.replace(suite, models=specs)
    missing, fatal = [], False
    if o["standin_model"]:  # --smoke with --checkpoint: the user's models through the stand-in path
        return dataclasses.replace(suite, models=register_checkpoints(o["checkpoints"]))
    if (torch.device(device).type != "cuda" or not torch.cuda.is_available()) and not o["allow_cpu"]:
        missing.append("a GPU (" + ("CUDA is not available" if not torch.cuda.is_available() else f"--device {device}")
                       + "; `rfbench run cifar10 --smoke` runs the path on CPU)")
        fatal = True
    specs = register_checkpoints(o["checkpoints"]) if o["checkpoints"] else []
    if not specs:
        missing.append("checkpoints (--checkpoint NAME=PATH: a released RF/score_sde/EDM/PFGM++/2-RF++ file, a "
                       "diffusers folder saved with save_pretrained, or an rfbench checkpoint)")
        fatal = True
    if "fid" in suite.metrics:
        ref = str(o["fid_ref"])
        checks = [lambda: _check_reference(ref, o)]
        if not o["standin"]:  # stand-in (random) Inception weights need no file
            checks.append(lambda: resolve_inception_weights(o["fid_weights"] or None))
        for check in checks:
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
             "allow_missing": False, "allow_cpu": False, "standin_model": False, "standin_format": "score-sde", "standin_ref_size": 64,
             "image_size": 32},
    prepare=_prepare,
    smoke={"samplers": ["euler", "ddim"], "nfe": [2], "n_samples": 8, "default_device": "cpu",
           "reference_tol": 1e-3, "timing_repeats": 1,
           "options": {"standin": True, "standin_model": True, "fid_ref": "standin", "standin_ref_size": 32, "fid_n": 24, "fid_batch": 16,
                       "prc_n": 24, "inception_batch": 16}},
))
