"""Fixed Fourier features of the time input, shared by rfbench's own networks."""

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
