"""A small digits classifier trained by rfbench, whose penultimate features define ``fd_digits``.

There is no standard feature network for 8 x 8 digits, so rfbench trains one: a three-layer CNN on
``rfbench.data.images.digits("train")`` (1,437 images), deterministic under its seed, on the CPU
(so the weights, and the extractor id, do not depend on the device the suite runs on), cached by a
hash of its config. Its test accuracy on ``digits("test")`` (360 images) is reported with every
number. The extractor id carries the sha256 of the trained weights, so FDs computed with different
classifiers are never confused; the column name ``fd_digits`` keeps them apart from Inception FID.

Protocol: images in [-1, 1] (generated samples clamped to [-1, 1], no quantisation), 8 x 8, one
channel, no resizing; features = the 128-d ReLU layer before the logits; Fréchet distance in float64
against the 360 test images (:mod:`rfbench.metrics.frechet`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from .. import progress as _progress

from .. import cache
from .frechet import FeatureStats, stats_from_features

REFERENCE_SPLIT = "test"


@dataclass(frozen=True)
class DigitsClassifierConfig:
    width: int = 32
    feat_dim: int = 128
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    version: int = 1  # bump when training changes


class DigitsCNN(nn.Module):
    """(n, 1, 8, 8) in [-1, 1] -> logits (n, 10); ``features`` gives the (n, feat_dim) penultimate layer."""

    def __init__(self, width: int = 32, feat_dim: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # 4 x 4
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(2 * width * 16, feat_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feat_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def state_sha256(net: nn.Module) -> str:
    """sha256 over the state dict's names, shapes and float32 bytes (independent of pickling)."""
    h = hashlib.sha256()
    for key, value in net.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@torch.no_grad()
def accuracy(net: DigitsCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((net(images).argmax(1) == labels).float().mean())


def _train(cfg: DigitsClassifierConfig, progress: bool) -> dict:
    # one thread: the net is tiny (multi-threading only adds overhead, badly so on a busy machine)
    # and single-threaded reductions keep the trained weights reproducible
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_loop(cfg, progress)
    finally:
        torch.set_num_threads(threads)


def _train_loop(cfg: DigitsClassifierConfig, progress: bool) -> dict:
    from ..data.images import digits

    x, y = digits("train")
    torch.manual_seed(cfg.seed)
    net = DigitsCNN(cfg.width, cfg.feat_dim)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    gen = torch.Generator().manual_seed(cfg.seed)
    start = time.perf_counter()
    _progress.announce(f"training the digits classifier: {cfg.epochs} epochs on {len(x)} images", show=progress)
    for _ in _progress.bar(range(cfg.epochs), desc="digits classifier", unit="epoch", disable=not progress, estimate=True):
        perm = torch.randperm(len(x), generator=gen)
        for idx in perm.split(cfg.batch_size):
            xb = x[idx]
            # +-1 pixel shifts: cheap augmentation, so features respond smoothly to small offsets
            dx, dy = torch.randint(-1, 2, (2,), generator=gen).tolist()
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = nn.functional.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    xt, yt = digits(REFERENCE_SPLIT)
    return {"config": asdict(cfg), "state_dict": net.state_dict(), "test_acc": accuracy(net, xt, yt),
            "train_acc": accuracy(net, x, y), "seconds": time.perf_counter() - start}


class DigitsClassifier:
    """The trained classifier with its identity: ``id``, ``sha256``, ``test_acc``."""

    def __init__(self, net: DigitsCNN, info: dict):
        self.net = net.eval()
        self.info = info
        self.sha256 = state_sha256(net)
        self.test_acc = float(info["test_acc"])
        self.id = f"rfbench digits-cnn v{info['config']['version']} penultimate {net.head.in_features} " \
                  f"(sha256 {self.sha256[:16]})"

    def to(self, device) -> DigitsClassifier:
        self.net.to(device)
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
        """(n, 1, 8, 8) images (clamped to [-1, 1]) -> (n, feat_dim) float64 on the CPU."""
        dev = next(self.net.parameters()).device
        out = [self.net.features(b.to(dev, torch.float32).clamp(-1, 1)).double().cpu()
               for b in images.split(batch_size)]
        return torch.cat(out)

    def reference_stats(self) -> FeatureStats:
        from ..data.images import digits

        return stats_from_features(self.features(digits(REFERENCE_SPLIT)[0]))


def load_digits_classifier(cfg: DigitsClassifierConfig | None = None, *, progress: bool = True
                           ) -> tuple[DigitsClassifier, bool]:
    """The classifier for ``cfg`` (trained once on the CPU, then cached). Returns (classifier, cache_hit)."""
    cfg = cfg or DigitsClassifierConfig()
    path = cache.cache_dir("digits-classifier") / f"digits-cnn-{cache.config_hash(asdict(cfg))}.pt"
    value, hit = cache.cached(path, lambda: _train(cfg, progress))
    net = DigitsCNN(cfg.width, cfg.feat_dim)
    net.load_state_dict(value["state_dict"])
    return DigitsClassifier(net, value), hit
