"""The velocity MLP of rfbench's 2-D models. The time input is rfbench time t in [0, 1]."""

from __future__ import annotations

import torch
from torch import nn

from .time import FourierTime


class MLP(nn.Module):
    """Velocity MLP for vectors: concat(x, Fourier(t)) -> hidden x depth (SiLU) -> dim.

    Input x: (batch, dim), t: (batch,). Output: (batch, dim). ``max_freq``: the highest Fourier
    frequency of the time input (rfbench's recipes use 8, see :func:`rfbench.training.recipes.default_net`).
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
