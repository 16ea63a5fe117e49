"""Velocity networks. The time input is rfbench time t in [0, 1]."""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierTime(nn.Module):
    """t -> [sin(2 pi f_k t), cos(2 pi f_k t)] with fixed log-spaced frequencies 1 .. max_freq."""

    def __init__(self, dim: int = 32, max_freq: float = 64.0):
        super().__init__()
        freqs = torch.exp(torch.linspace(0, math.log(max_freq), dim // 2))
        self.register_buffer("freqs", 2 * math.pi * freqs)
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = t[:, None].to(self.freqs.dtype) * self.freqs[None]
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class MLP(nn.Module):
    """Velocity MLP for vectors: concat(x, Fourier(t)) -> hidden x depth (SiLU) -> dim.

    Input x: (batch, dim), t: (batch,). Output: (batch, dim). ``max_freq``: the highest Fourier
    frequency of the time input (rfbench's recipes use 8, see :func:`rfbench.models.trained.default_net`).
    """

    def __init__(self, dim: int, hidden: int = 256, depth: int = 3, time_dim: int = 32, max_freq: float = 64.0):
        super().__init__()
        self.config = {"dim": dim, "hidden": hidden, "depth": depth, "time_dim": time_dim, "max_freq": max_freq}
        self.time = FourierTime(time_dim, max_freq)
        layers: list[nn.Module] = [nn.Linear(dim + time_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)
        out = self.net(torch.cat([flat, self.time(t).to(flat.dtype)], dim=1))
        return out.reshape(x.shape)


def build_network(kind: str, config: dict, *, source: str = "network config") -> nn.Module:
    """``MLP(**config)`` or ``UNet(**config)`` by class name; a bad config raises CheckpointError naming ``source``."""
    from ..errors import CheckpointError
    from .unet import UNet

    classes = {"MLP": MLP, "UNet": UNet}
    if kind not in classes:
        raise CheckpointError(f"{source}: unknown network {kind!r}; expected one of {', '.join(classes)}")
    try:
        return classes[kind](**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: cannot build {kind} from config {config} ({exc})") from None
