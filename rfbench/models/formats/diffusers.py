"""A diffusers ``UNet2DModel`` saved in a local directory, as a base diffusion :class:`FlowModel`.

E.g. a DDPM CIFAR-10 U-Net saved with ``save_pretrained`` (``google/ddpm-cifar10-32``'s layout)::

    model = rfbench.models.load_diffusers_unet("/data/ddpm-cifar10-32")
    rfbench.models.register_checkpoint("ddpm-cifar10", "/data/ddpm-cifar10-32")  # by name (format detected)

Accepted layouts: a pipeline folder (``model_index.json``, ``unet/``, ``scheduler/``), or a U-Net
folder (``config.json`` + weights) with ``scheduler_config.json`` beside it or in ``../scheduler/``.
Nothing is downloaded (``local_files_only=True``).

Mapping to rfbench time: the scheduler's DDPM betas (``linear`` or ``scaled_linear``, T steps)
become a :class:`~rfbench.models.schedules.DiscreteVPSchedule`: alphas_cumprod[k] sits at
t_k = (k + 1) / T, so t runs over [1/T, 1] (t_min = 1/T is the network's k = 0), and the network is
queried at the continuous timestep k = t T - 1 (``schedule.timestep(t)``), DPM-Solver's convention for
discrete-time models. ``prediction_type`` "epsilon" -> native eps, "sample" -> native x0,
"v_prediction" -> eps through :func:`~rfbench.models.conversions.eps_from_diffusion_v`. Scheduler
fields that only concern diffusers' own samplers (clip_sample, thresholding, timestep_spacing,
variance_type) are ignored: rfbench integrates the probability-flow ODE. The timestep embedding of
diffusers is computed in float32 even for a float64 model (so a float64 reference solve sees the
same function as float32 sampling). Identity: sha256 over the config and weight files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ...errors import CheckpointError
from .. import conversions
from ..base import FlowModel
from ..schedules import DiscreteVPSchedule

_PREDICTIONS = {"epsilon": "eps", "sample": "x0", "v_prediction": "eps"}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not readable JSON ({type(exc).__name__}: {exc})") from None


def locate(path: str | Path) -> tuple[Path, Path]:
    """(U-Net folder, scheduler config file) of a diffusers checkpoint folder; CheckpointError naming
    the expected files otherwise."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise CheckpointError(f"diffusers checkpoint {root} is not a directory (expected a folder saved with "
                              "save_pretrained: model_index.json + unet/ + scheduler/, or config.json + weights)")
    if (root / "model_index.json").is_file() or (root / "unet").is_dir():
        unet_dir, sched = root / "unet", root / "scheduler" / "scheduler_config.json"
    else:
        unet_dir = root
        sched = next((p for p in (root / "scheduler_config.json", root.parent / "scheduler" / "scheduler_config.json")
                      if p.is_file()), root / "scheduler_config.json")
    if not (unet_dir / "config.json").is_file():
        raise CheckpointError(f"diffusers checkpoint {root}: no U-Net config at {unet_dir / 'config.json'}")
    if not sched.is_file():
        raise CheckpointError(f"diffusers checkpoint {root}: no scheduler config (looked for {sched}); rfbench needs "
                              "the DDPM betas and prediction_type from it")
    return unet_dir, sched


def checkpoint_sha256(path: str | Path) -> str:
    """sha256 over the U-Net config, its weight files and the scheduler config (names and bytes)."""
    unet_dir, sched = locate(path)
    files = [unet_dir / "config.json", sched] + sorted(unet_dir.glob("diffusion_pytorch_model*"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
    return h.hexdigest()


def schedule_from_scheduler_config(cfg: dict, where: Path) -> tuple[DiscreteVPSchedule, str]:
    """(DiscreteVPSchedule, diffusers prediction_type) from a DDPM-family scheduler config."""
    if cfg.get("trained_betas") is not None:
        raise CheckpointError(f"{where}: trained_betas is not supported (rfbench needs a linear or scaled_linear "
                              "beta schedule)")
    if cfg.get("rescale_betas_zero_snr"):
        raise CheckpointError(f"{where}: rescale_betas_zero_snr=True is not supported (alpha(1) = 0 has no "
                              "eps-parameterised ODE start)")
    kind = cfg.get("beta_schedule", "linear")
    if kind not in ("linear", "scaled_linear"):
        raise CheckpointError(f"{where}: beta_schedule {kind!r} is not supported; expected 'linear' or 'scaled_linear'")
    pred = cfg.get("prediction_type", "epsilon")
    if pred not in _PREDICTIONS:
        raise CheckpointError(f"{where}: prediction_type {pred!r} is not supported; expected one of "
                              f"{', '.join(_PREDICTIONS)}")
    sched = DiscreteVPSchedule(int(cfg.get("num_train_timesteps", 1000)), float(cfg.get("beta_start", 1e-4)),
                               float(cfg.get("beta_end", 0.02)), kind)
    return sched, pred


class DiffusersUNet(FlowModel):
    """A diffusers ``UNet2DModel`` on its DDPM schedule, in rfbench time (see the module docstring).

    forward(x (batch, C, H, W), t (batch,)) -> the native prediction (eps, or x0 for "sample").
    """

    def __init__(self, unet: torch.nn.Module, schedule: DiscreteVPSchedule, diffusers_prediction: str, *,
                 name: str = "diffusers-unet", source: str = "", sha256: str = ""):
        size = unet.config.sample_size
        hw = (size, size) if isinstance(size, int) else tuple(size)
        super().__init__(schedule=schedule, data_shape=(unet.config.in_channels, *hw),
                         t_max=1.0, t_min=1.0 / schedule.num_steps, eval_at_t_min=True)
        self.unet = unet
        self.name = name
        self.diffusers_prediction = diffusers_prediction
        self.prediction = _PREDICTIONS[diffusers_prediction]
        self.source, self.sha256 = source, sha256

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.unet(x, self.schedule.timestep(t).to(x.dtype)).sample
        if self.diffusers_prediction == "v_prediction":
            out = conversions.eps_from_diffusion_v(out, x, t, self.schedule)
        return out

    def config(self) -> dict:
        return {**super().config(), "checkpoint": self.source, "checkpoint_sha256": self.sha256,
                "diffusers_prediction": self.diffusers_prediction}


def load_diffusers_unet(path: str | Path, *, name: str = "diffusers-unet", expect_sha256: str | None = None
                        ) -> DiffusersUNet:
    """Load a diffusers UNet2DModel folder as a :class:`DiffusersUNet` (CPU, float32, eval mode).

    ``expect_sha256``: fail with CheckpointError if the files changed since that hash was taken.
    """
    unet_dir, sched_file = locate(path)
    sha = checkpoint_sha256(path)
    if expect_sha256 and sha != expect_sha256:
        raise CheckpointError(f"diffusers checkpoint {path} changed: sha256 {sha[:16]} differs from the expected "
                              f"{expect_sha256[:16]}")
    cls_name = _read_json(unet_dir / "config.json").get("_class_name")
    if cls_name != "UNet2DModel":
        raise CheckpointError(f"{unet_dir / 'config.json'}: _class_name is {cls_name!r}; rfbench loads unconditional "
                              "UNet2DModel checkpoints")
    schedule, pred = schedule_from_scheduler_config(_read_json(sched_file), sched_file)
    from diffusers import UNet2DModel
    from diffusers.utils import logging as dlogging

    verbosity = dlogging.get_verbosity()
    dlogging.set_verbosity_error()
    try:
        unet = UNet2DModel.from_pretrained(str(unet_dir), local_files_only=True)
    except Exception as exc:
        raise CheckpointError(f"diffusers checkpoint {unet_dir} could not be loaded: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    finally:
        dlogging.set_verbosity(verbosity)
    return DiffusersUNet(unet.eval(), schedule, pred, name=name, source=str(Path(path).expanduser()), sha256=sha)
