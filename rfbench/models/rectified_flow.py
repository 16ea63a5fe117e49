"""Rectified flow (Liu, Gong & Liu 2022, arXiv 2209.03003): the network-as-model wrapper and the 2-D 1-RF.

Objective in rfbench time (t = 1 noise): x_t = (1 - t) x0 + t n with independent x0 ~ data,
n ~ N(0, I), t ~ U[0, 1]; regress v_theta(x_t, t) on n - x0 (the RF paper's x1 - x0 with time
reversed). The network is queried on all of [0, 1] in training, so samplers may evaluate it at
both ends (the RF code's eps = 1e-3 offset is not needed). Training of every family lives in
:mod:`rfbench.models.trained`; the objectives in :mod:`rfbench.models.objectives`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..data import DATASETS, get_dataset
from .base import FlowModel
from .objectives import rf_loss  # noqa: F401  (re-exported: the loss lives with the other objectives)
from .priors import GaussianPrior
from .schedules import FLOW


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
        if self.dataset is None or self.dataset not in DATASETS:
            return None
        return get_dataset(self.dataset).sample(n, generator=generator)

    def config(self):
        return {**super().config(), "dataset": self.dataset, "checkpoint": self.meta.get("config_hash")}


@dataclass(frozen=True)
class RF2DConfig:
    """Training configuration of a 2-D 1-RF (the first API; :func:`rfbench.models.trained.make_recipe`
    is the general one). ``recipe()`` gives the equivalent recipe, whose hash keys the checkpoint."""

    data: str = "8gaussians"
    n_train: int = 50_000
    hidden: int = 256
    depth: int = 3
    steps: int = 4000
    batch: int = 1024
    lr: float = 2e-3
    ema: float = 0.999
    seed: int = 0

    def recipe(self):
        from .trained import make_recipe

        return make_recipe("1-rf", self.data, steps=self.steps, seed=self.seed,
                           net_config={"hidden": self.hidden, "depth": self.depth},
                           n_train=self.n_train, batch=self.batch, lr=self.lr, ema=self.ema)

    def hash(self) -> str:
        return self.recipe().hash()


def train_rf_2d(cfg: RF2DConfig, *, progress: bool = True) -> dict:
    """Train a 1-RF MLP on ``cfg.data``; returns a checkpoint dict."""
    from .trained import train_checkpoint

    return train_checkpoint(cfg.recipe(), progress=progress)


def load_rf_2d(cfg: RF2DConfig | None = None, *, progress: bool = True, refresh: bool = False) -> NetworkFlow:
    """The 1-RF for ``cfg``: loaded from the checkpoint cache, or trained and cached (under a minute)."""
    from .trained import load_trained

    return load_trained((cfg or RF2DConfig()).recipe(), progress=progress, refresh=refresh)
