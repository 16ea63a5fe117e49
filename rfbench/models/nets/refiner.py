"""FlowTurbo's velocity refiners r_phi(x, t, v) -> velocity offset (:mod:`rfbench.samplers.flowturbo`):
the last layer starts at zero (as the paper's adaLN-Zero block), so an untrained refiner hands v on
unchanged. Trained by :mod:`rfbench.training.flowturbo`.
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import NotApplicableError
from .time import FourierTime


class VectorRefiner(nn.Module):
    """r(x, t, v) for vectors: MLP on [x, v, Fourier(t)] -> offset. x, v: (batch, dim); t: (batch,)."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3, time_dim: int = 16):
        super().__init__()
        self.time = FourierTime(time_dim)
        layers: list[nn.Module] = [nn.Linear(2 * dim + time_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, dim))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([x.reshape(len(x), -1), v.reshape(len(v), -1), self.time(t).to(x.dtype)], dim=1)
        return self.net(flat).reshape(x.shape)


class ConvRefiner(nn.Module):
    """r(x, t, v) for images: conv3x3 on [x, v] (2C channels) + time embedding, SiLU, conv3x3,
    SiLU, conv3x3 -> C. x, v: (batch, C, H, W); t: (batch,)."""

    def __init__(self, channels: int, hidden: int = 64, time_dim: int = 32):
        super().__init__()
        self.time = FourierTime(time_dim)
        self.time_proj = nn.Linear(time_dim, hidden)
        self.conv_in = nn.Conv2d(2 * channels, hidden, 3, padding=1)
        self.conv_mid = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.conv_out = nn.Conv2d(hidden, channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(torch.cat([x, v], dim=1)) + self.time_proj(self.time(t).to(x.dtype))[:, :, None, None]
        h = self.conv_mid(nn.functional.silu(h))
        return self.conv_out(nn.functional.silu(h))


def make_refiner(data_shape: tuple[int, ...], hidden: int = 64, depth: int = 3) -> nn.Module:
    """A vector refiner for (dim,) data, a conv refiner for (C, H, W) data."""
    if len(data_shape) == 1:
        return VectorRefiner(data_shape[0], hidden=hidden, depth=depth)
    if len(data_shape) == 3:
        return ConvRefiner(data_shape[0], hidden=hidden)
    raise NotApplicableError(f"no FlowTurbo refiner architecture for data of shape {data_shape}")
