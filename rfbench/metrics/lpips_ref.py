"""Image distances to the reference solution from the same noise: LPIPS and PSNR.

Both compare a sampler's image with the reference ODE solution's image (dopri5, float64) started
from the *same* noise, so they measure solver error in image terms, not sample quality.

LPIPS (Zhang et al. 2018) through the ``lpips`` package: ``lpips.LPIPS(net="alex", version="0.1")``
with the linear calibration layers shipped inside the package, and the AlexNet trunk from a local
file, never downloaded: suite option ``lpips_weights``, else ``$RFBENCH_ALEXNET_WEIGHTS``, else
torchvision's cache ``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``. Only the published
torchvision file (sha256 starting 7be5be79, torchvision's own check) yields a number named
``lpips``; any other trunk (the random stand-in of tests and --smoke) gives ``lpips_unverified``.

Input rule (recorded as ``lpips_resize_rule``): images are clamped to [-1, 1] (LPIPS expects
[-1, 1]; no [0, 1] rescaling), grayscale repeated to three channels, and resized bilinearly
(align_corners=False, no antialiasing) to ``resize`` x ``resize`` when they differ from it. AlexNet
cannot process 8 x 8 inputs at all (its first layer has an 11 x 11 kernel at stride 4) and sees
32 x 32 inputs as a 7 x 7 map; 224 is AlexNet's training resolution and the common choice for
LPIPS on small images (e.g. consistency models' LPIPS loss), so it is the default.

PSNR: 10 log10(range^2 / MSE) per sample with range = 2 (images in [-1, 1], clamped), averaged over
samples (dB); identical images give +inf.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from .. import cache
from ..errors import CheckpointError, InvalidInputError
from .fid import WeightsFile, cached_sha256, resolve_weights

ALEXNET_FILENAME = "alexnet-owt-7be5be79.pth"
ALEXNET_SHA256_PREFIX = "7be5be79"  # torchvision's file-name suffix, checked by torch hub against sha256
ENV_ALEXNET = "RFBENCH_ALEXNET_WEIGHTS"
LPIPS_NET = "alex"
LPIPS_VERSION = "0.1"
DEFAULT_RESIZE = 224
# lpips' AlexNet trunk: torchvision's alexnet.features[i] lives in slice k of lpips' network
_SLICE_OF_LAYER = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


def resolve_alexnet_weights(path: str | os.PathLike | None = None) -> WeightsFile:
    return resolve_weights(path, ENV_ALEXNET, ALEXNET_FILENAME, "AlexNet (LPIPS trunk)",
                           lambda sha: sha.startswith(ALEXNET_SHA256_PREFIX))


def _quiet_alexnet():
    from torchvision.models import alexnet

    return alexnet(weights=None)


def standin_alexnet_weights(seed: int = 0) -> WeightsFile:
    """A saved, randomly initialised torchvision AlexNet (cached): tests and --smoke only."""
    path = cache.cache_dir("standins") / f"alexnet-features-random-seed{seed}-v1.pth"

    def build():  # the convolutional trunk only (features.*), all LPIPS uses
        torch.manual_seed(seed)
        return {k: v for k, v in _quiet_alexnet().state_dict().items() if k.startswith("features.")}

    cache.cached(path, build)
    sha = cached_sha256(path)
    return WeightsFile(path, sha, "stand-in", False,
                       f"stand-in: randomly initialised AlexNet trunk, seed {seed} (sha256 {sha[:16]}); not LPIPS")


def lpips_lin_file() -> Path:
    import lpips

    return Path(lpips.__file__).parent / "weights" / f"v{LPIPS_VERSION}" / f"{LPIPS_NET}.pth"


class LPIPSRef:
    """LPIPS (AlexNet, v0.1) between image batches in [-1, 1]; ``__call__`` returns per-pair distances."""

    def __init__(self, trunk: WeightsFile, *, resize: int | None = DEFAULT_RESIZE,
                 device: str | torch.device = "cpu", batch_size: int = 100):
        import lpips

        try:
            state = torch.load(trunk.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"AlexNet weights file {trunk.path} cannot be read as a state dict "
                                  f"({type(exc).__name__})") from None
        with warnings.catch_warnings():  # torchvision's deprecation note about `pretrained=False`
            warnings.simplefilter("ignore")
            net = lpips.LPIPS(pretrained=True, net=LPIPS_NET, version=LPIPS_VERSION, pnet_rand=True, verbose=False)
        own = net.state_dict()
        mapped = {}
        for layer, k in _SLICE_OF_LAYER.items():
            for part in ("weight", "bias"):
                src, dst = f"features.{layer}.{part}", f"net.slice{k}.{layer}.{part}"
                if src not in state:
                    raise CheckpointError(f"AlexNet weights file {trunk.path} lacks {src!r} (expected torchvision's "
                                          "alexnet state dict)")
                if state[src].shape != own[dst].shape:
                    raise CheckpointError(f"AlexNet weights file {trunk.path}: {src} has shape "
                                          f"{tuple(state[src].shape)}, expected {tuple(own[dst].shape)}")
                mapped[dst] = state[src]
        net.load_state_dict(mapped, strict=False)
        self.net = net.to(torch.device(device)).eval()
        self.trunk, self.resize, self.device, self.batch_size = trunk, resize, torch.device(device), int(batch_size)
        self.lin_sha256 = cached_sha256(lpips_lin_file())

    def resize_rule(self, shape: tuple[int, ...]) -> str:
        h, w = shape[-2:]
        size = "native" if not self.resize or (h, w) == (self.resize, self.resize) else \
            f"bilinear {h}x{w} -> {self.resize}x{self.resize} (align_corners=False)"
        return f"clamp [-1, 1]; {size}"

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32).clamp(-1, 1)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.resize and tuple(x.shape[-2:]) != (self.resize, self.resize):
            x = torch.nn.functional.interpolate(x, size=(self.resize, self.resize), mode="bilinear",
                                                align_corners=False)
        return x

    @torch.no_grad()
    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """LPIPS per pair, shape (n,), float64 on the CPU; a, b: (n, 1 or 3, H, W) in [-1, 1]."""
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] not in (1, 3):
            raise InvalidInputError(f"LPIPS needs two image batches of the same shape (n, 1 or 3, H, W), got "
                                    f"{tuple(a.shape)} and {tuple(b.shape)}")
        out = [self.net(self._prep(x), self._prep(y)).flatten().double().cpu()
               for x, y in zip(a.split(self.batch_size), b.split(self.batch_size))]
        return torch.cat(out)


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 2.0) -> float:
    """Mean over samples of 10 log10(range^2 / MSE_i), images clamped to [-1, 1]; float64."""
    if x.shape != ref.shape:
        raise InvalidInputError(f"PSNR: samples {tuple(x.shape)} and reference {tuple(ref.shape)} differ in shape")
    a = x.detach().to("cpu", torch.float64).clamp(-1, 1)
    b = ref.detach().to("cpu", torch.float64).clamp(-1, 1)
    mse = (a - b).flatten(1).pow(2).mean(1)
    return float((10 * torch.log10(data_range**2 / mse)).mean())
