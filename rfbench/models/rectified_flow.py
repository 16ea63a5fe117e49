"""Rectified flow (Liu, Gong & Liu 2022, arXiv 2209.03003): 1-RF trained by rfbench on 2-D data.

Objective in rfbench time (t = 1 noise): x_t = (1 - t) x0 + t n with independent x0 ~ data,
n ~ N(0, I), t ~ U[0, 1]; regress v_theta(x_t, t) on n - x0 (the RF paper's x1 - x0 with time
reversed). The network is queried on all of [0, 1] in training, so samplers may evaluate it at
both ends (the RF code's eps = 1e-3 offset is not needed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .. import cache
from ..data import get_dataset
from .base import FlowModel
from .checkpoints import load_state, make_checkpoint, validate_checkpoint
from .networks import MLP
from .priors import GaussianPrior
from .schedules import FLOW
from .training import init_seeded, train

TRAIN_CODE_VERSION = "rf-2d-v1"  # bump when the training code changes what a config produces


class NetworkFlow(FlowModel):
    """A network ``net(x, t)`` returning the model's native prediction, as a FlowModel."""

    def __init__(self, net: nn.Module, *, name: str, prediction: str = "velocity", dataset: str | None = None,
                 meta: dict[str, Any] | None = None, **kw):
        kw.setdefault("schedule", FLOW)
        kw.setdefault("prior", GaussianPrior())
        super().__init__(**kw)
        self.net, self.name, self.prediction, self.dataset = net, name, prediction, dataset
        self.meta = dict(meta or {})

    def forward(self, x, t):
        return self.net(x, t)

    def sample_data(self, n, *, generator=None):
        if self.dataset is None:
            return None
        return get_dataset(self.dataset).sample(n, generator=generator)

    def config(self):
        return {**super().config(), "dataset": self.dataset, "checkpoint": self.meta.get("config_hash")}


@dataclass(frozen=True)
class RF2DConfig:
    """Training configuration of a 2-D rectified flow; its hash keys the cached checkpoint."""

    data: str = "8gaussians"
    n_train: int = 50_000
    hidden: int = 256
    depth: int = 3
    steps: int = 4000
    batch: int = 1024
    lr: float = 2e-3
    ema: float = 0.999
    seed: int = 0
    code: str = TRAIN_CODE_VERSION

    def hash(self) -> str:
        return cache.config_hash(asdict(self))


def rf_loss(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, net: nn.Module) -> torch.Tensor:
    """Rectified-flow regression loss for one batch (mean over elements)."""
    tt = t.reshape(-1, *([1] * (x0.ndim - 1)))
    xt = (1 - tt) * x0 + tt * noise
    return (net(xt, t) - (noise - x0)).pow(2).mean()


def train_rf_2d(cfg: RF2DConfig, *, progress: bool = True) -> dict:
    """Train a 1-RF MLP on ``cfg.data``; returns a checkpoint dict."""
    ds = get_dataset(cfg.data)
    data = ds.sample(cfg.n_train, seed=1000 + cfg.seed).to(torch.float32)
    dim = data.shape[1]
    net_config = {"dim": dim, "hidden": cfg.hidden, "depth": cfg.depth}
    net = init_seeded(lambda: MLP(**net_config), cfg.seed)

    def loss_fn(model, gen):
        idx = torch.randint(0, len(data), (cfg.batch,), generator=gen)
        noise = torch.randn((cfg.batch, dim), generator=gen)
        t = torch.rand(cfg.batch, generator=gen)
        return rf_loss(data[idx], noise, t, model)

    ema, info = train(net, loss_fn, steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, ema_decay=cfg.ema,
                      progress=progress, desc=f"train 1-rf on {cfg.data}")
    return make_checkpoint("1-rf", ema, net_config, train_config=asdict(cfg), train_info=info,
                           config_hash=cfg.hash())


def load_rf_2d(cfg: RF2DConfig | None = None, *, progress: bool = True, refresh: bool = False) -> NetworkFlow:
    """The 1-RF for ``cfg``: loaded from the checkpoint cache, or trained and cached (under a minute)."""
    cfg = cfg or RF2DConfig()
    path = cache.cache_dir("checkpoints") / f"1-rf-{cfg.data}-{cfg.hash()}.pt"
    ckpt, hit = cache.cached(path, lambda: train_rf_2d(cfg, progress=progress), refresh=refresh)
    validate_checkpoint(ckpt, path, expect_model="1-rf")
    net = load_state(MLP(**ckpt["net_config"]), ckpt["state_dict"], path).eval()
    meta = {"config_hash": cfg.hash(), "cache_hit": hit, "checkpoint": str(path), **ckpt["train_info"]}
    return NetworkFlow(net, name="1-rf", dataset=cfg.data, data_shape=(ckpt["net_config"]["dim"],), meta=meta)
