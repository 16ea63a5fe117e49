"""A small U-Net for images: time embedding, residual blocks, optional self-attention.

Sized by config: the default (32 channels, multipliers (1, 2), one residual block per level, no
attention) trains a digits (1x8x8) model in minutes on 2 CPU cores; CIFAR-10 on a GPU wants e.g.
``UNet(channels=3, base=128, mults=(1, 2, 2, 2), blocks=2, attention=(16,), dropout=0.1)``.

The scalar conditioning input ``c`` (batch,) is whatever the model family feeds it: rfbench time t
for flows and VP diffusion, EDM's c_noise = ln(sigma)/4 for PFGM++ / EDM. It is embedded with the
same fixed Fourier features as :class:`~rfbench.models.nets.mlp.MLP`, then a two-layer MLP.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .time import FourierTime


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch), ch)


def _zero(module: nn.Module) -> nn.Module:
    """Zero-initialise the last layer of a residual branch, so every block starts as the identity."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GN-SiLU-conv, + time embedding (scale and shift), GN-SiLU-dropout-conv, + skip."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.drop = _norm(cout), nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-head self-attention over pixels, residual."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm, self.qkv, self.out = _norm(ch), nn.Conv2d(ch, 3 * ch, 1), _zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """U-Net ``net(x, c)``: x (batch, channels, H, W), c (batch,) -> (batch, channels, H, W).

    Args:
        channels: image channels. base: channels of the first level. mults: channel multiplier per
        level (a level halves the resolution after it, except the last). blocks: residual blocks per
        level on the way down (one more on the way up, taking the skips). attention: resolutions
        (side length) with self-attention; off by default. dropout: inside residual blocks.
        time_dim, max_freq: Fourier features of c (frequencies 1 .. max_freq); emb_dim: the embedding
        (default 4 * base).
    """

    def __init__(self, channels: int = 1, base: int = 32, mults: tuple[int, ...] = (1, 2), blocks: int = 1,
                 attention: tuple[int, ...] = (), dropout: float = 0.0, image_size: int = 8,
                 time_dim: int = 32, emb_dim: int | None = None, max_freq: float = 64.0):
        super().__init__()
        mults, attention = tuple(int(m) for m in mults), tuple(int(a) for a in attention)
        emb_dim = int(emb_dim or 4 * base)
        self.config = {"channels": channels, "base": base, "mults": list(mults), "blocks": blocks,
                       "attention": list(attention), "dropout": dropout, "image_size": image_size,
                       "time_dim": time_dim, "emb_dim": emb_dim, "max_freq": max_freq}
        if image_size % (2 ** (len(mults) - 1)):
            raise ValueError(f"image_size {image_size} is not divisible by 2^{len(mults) - 1} ({len(mults)} levels)")
        self.time = nn.Sequential(FourierTime(time_dim, max_freq), nn.Linear(time_dim, emb_dim), nn.SiLU(),
                                  nn.Linear(emb_dim, emb_dim))
        self.inp = nn.Conv2d(channels, base, 3, padding=1)

        self.down = nn.ModuleList()
        skips, ch, res = [base], base, image_size
        for level, m in enumerate(mults):
            for _ in range(blocks):
                self.down.append(ResBlock(ch, base * m, emb_dim, dropout))
                ch = base * m
                if res in attention:
                    self.down.append(Attention(ch))
                skips.append(ch)
            if level < len(mults) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
                res //= 2
        self.mid = nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout), *([Attention(ch)] if res in attention else []),
                                  ResBlock(ch, ch, emb_dim, dropout)])
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mults))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), base * m, emb_dim, dropout))
                ch = base * m
                if res in attention:
                    self.up.append(Attention(ch))
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)))
                res *= 2
        self.out = nn.Sequential(_norm(ch), nn.SiLU(), _zero(nn.Conv2d(ch, channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        emb = self.time(c.to(x.dtype))
        h = self.inp(x)
        hs = [h]
        for layer in self.down:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
                hs.append(h)
            elif isinstance(layer, Attention):
                h = layer(h)
                hs[-1] = h
            else:  # downsampling conv
                h = layer(h)
                hs.append(h)
        for layer in self.mid:
            h = layer(h, emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), emb)
            elif isinstance(layer, Attention):
                h = layer(h)
            else:
                h = layer(h)
        return self.out(h)
