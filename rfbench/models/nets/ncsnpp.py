"""NCSN++ / DDPM++ of score_sde (Song et al. 2021, app. H), the network of score_sde's and
RectifiedFlow's checkpoints, written for rfbench with the original parameter names.

The released state is a flat ``all_modules.<i>.<...>`` list (plus the ``sigmas`` buffer), so the
modules are registered in the original order and ``parameters()`` runs in the original order too:
RectifiedFlow and score_sde store their EMA weights as an unnamed list in that order.

``net(x, time_cond)``: ``time_cond`` is what the original receives: 999 t for RectifiedFlow and
score_sde's VP models (embedded by sinusoids, ``embedding_type="positional"``), sigma for score_sde's
continuous VE models (``"fourier"``: random features of log sigma). Configuration in score_sde's field
names (``NCSNppConfig``). Computation, level by level (resolution ``image_size / 2^level``):

* embedding -> Dense -> act -> Dense (``conditional``); every residual block adds
  Dense_0(act(temb)) to its first conv's output.
* residual blocks: ``resblock_type="biggan"`` (resampling inside the block: FIR filtered with
  ``fir`` or nearest/average otherwise, 1x1 skip conv where the shape changes) or ``"ddpm"``
  (separate Upsample/Downsample layers, NIN skip where channels change); with ``skip_rescale`` the
  residual sum is divided by sqrt(2).
* attention (single head, NIN projections) after the blocks of a level whose resolution is in
  ``attn_resolutions``: after each block on the way down, once per level on the way up, and in the
  middle.
* ``progressive_input``: "input_skip" feeds a downsampled copy of the input image into every level
  through ``Combine`` (1x1 conv, then sum or concatenation), "residual" runs a resampling conv
  pyramid added (with skip_rescale) to the features. ``progressive``: "output_skip" sums per-level
  output heads through FIR/nearest upsampling, "residual" adds an upsampled head pyramid to the
  features.
* ``scale_by_sigma`` divides the output by sigma (the fourier input itself, or ``sigmas[time_cond]``).
* ``centered=False``: inputs are images in [0, 1], mapped to 2x - 1 first.

Deviations, all in code paths the original cannot run in PyTorch: the original's ``Upsample`` with
``fir=False`` passes ``'nearest'`` positionally into ``F.interpolate``'s ``scale_factor`` (PyTorch
rejects it); rfbench does the evident nearest-neighbour upsampling. Its FIR upsampling *convolution*
(``fir=True`` with ``resblock_type="ddpm"`` or ``progressive="residual"``) slices a tensor with a
negative step, which PyTorch does not support; rfbench refuses such configurations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .layers import (fir_conv_downsample_2d, fir_downsample_2d, fir_upsample_2d, naive_downsample_2d,
                     naive_upsample_2d)

ACTIVATIONS = {"swish": nn.SiLU, "elu": nn.ELU, "relu": nn.ReLU, "lrelu": lambda: nn.LeakyReLU(0.2)}


@dataclass(frozen=True)
class NCSNppConfig:
    """score_sde's ``config.model`` / ``config.data`` fields that shape the network (original names).

    ``sigma_min``, ``sigma_max`` and ``num_scales`` only fill the ``sigmas`` buffer (used with
    ``scale_by_sigma`` and positional embedding); ``dropout`` matters only in training.
    """

    image_size: int = 32
    num_channels: int = 3
    centered: bool = True
    nf: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 4
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    resamp_with_conv: bool = True
    conditional: bool = True
    fir: bool = False
    fir_kernel: tuple[int, ...] = (1, 3, 3, 1)
    skip_rescale: bool = True
    resblock_type: str = "biggan"
    progressive: str = "none"
    progressive_input: str = "none"
    progressive_combine: str = "sum"
    embedding_type: str = "positional"
    fourier_scale: float = 16.0
    scale_by_sigma: bool = False
    nonlinearity: str = "swish"
    sigma_min: float = 0.01
    sigma_max: float = 50.0
    num_scales: int = 1000

    # score_sde config fields that do not change the network rfbench builds
    IGNORED = ("name", "normalization", "attention_type", "init_scale", "conv_size", "ema_rate", "beta_min",
               "beta_max")

    @classmethod
    def from_dict(cls, cfg: dict, *, source: str = "config") -> NCSNppConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - set(cls.IGNORED))
        if unknown:
            raise ValueError(f"{source}: unknown NCSN++ config field(s) {unknown}; expected score_sde's names "
                             f"({', '.join(sorted(known))})")
        kw = {k: v for k, v in cfg.items() if k in known}
        for k in ("ch_mult", "attn_resolutions", "fir_kernel"):
            if k in kw:
                kw[k] = tuple(int(v) for v in kw[k])
        for k in ("resblock_type", "progressive", "progressive_input", "progressive_combine", "embedding_type",
                  "nonlinearity"):
            if k in kw:
                kw[k] = str(kw[k]).lower()
        return cls(**kw)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def validate(self) -> None:
        choices = {"resblock_type": ("ddpm", "biggan"), "progressive": ("none", "output_skip", "residual"),
                   "progressive_input": ("none", "input_skip", "residual"), "progressive_combine": ("sum", "cat"),
                   "embedding_type": ("fourier", "positional"), "nonlinearity": tuple(ACTIVATIONS)}
        for k, allowed in choices.items():
            if getattr(self, k) not in allowed:
                raise ValueError(f"NCSN++ {k}={getattr(self, k)!r}; expected one of {', '.join(allowed)}")
        if self.fir and self.resamp_with_conv and (self.resblock_type == "ddpm" or self.progressive == "residual"):
            raise ValueError("NCSN++ with fir=True and a convolutional FIR upsampler (resblock_type='ddpm' or "
                             "progressive='residual') cannot run in score_sde_pytorch either (its upsample_conv_2d "
                             "slices with a negative step); rfbench does not load it")
        if self.image_size % (2 ** (len(self.ch_mult) - 1)):
            raise ValueError(f"NCSN++ image_size {self.image_size} is not divisible by 2^{len(self.ch_mult) - 1}")


# -- layers with score_sde's parameter names ----------------------------------------------------------


def conv3x3(cin: int, cout: int, stride: int = 1, padding: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=padding)


def conv1x1(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1)


def group_norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(ch // 4, 32), ch, eps=1e-6)


class NIN(nn.Module):
    """A 1x1 "network in network" projection with ``W`` of shape (in, out) and bias ``b``."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(cin, cout))
        self.b = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        return torch.einsum("bchw,cd->bdhw", x, self.W) + self.b[None, :, None, None]


class GaussianFourierProjection(nn.Module):
    """[sin(2 pi W x), cos(2 pi W x)] with fixed random ``W`` (a parameter without gradient, so it is in
    the model state but not in the EMA list)."""

    def __init__(self, embedding_size: int, scale: float):
        super().__init__()
        self.W = nn.Parameter(torch.randn(embedding_size) * scale, requires_grad=False)

    def forward(self, x):
        arg = x[:, None] * self.W[None, :] * 2 * math.pi
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_positions: int = 10000) -> torch.Tensor:
    """DDPM sinusoids [sin(t f_k), cos(t f_k)], f_k = max_positions^(-k/(K-1)), K = dim/2, formed in float32
    like the original (the input is cast to float32 first)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=timesteps.device)
                      * -(math.log(max_positions) / (half - 1)))
    arg = timesteps.float()[:, None] * freqs[None, :]
    emb = torch.cat([arg.sin(), arg.cos()], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class AttnBlockpp(nn.Module):
    """Single-head self-attention over pixels with NIN q/k/v/out projections, residual."""

    def __init__(self, channels: int, skip_rescale: bool):
        super().__init__()
        self.GroupNorm_0 = group_norm(channels)
        self.NIN_0, self.NIN_1, self.NIN_2, self.NIN_3 = (NIN(channels, channels) for _ in range(4))
        self.skip_rescale = skip_rescale

    def forward(self, x):
        b, c, h, w = x.shape
        hn = self.GroupNorm_0(x)
        q, k, v = self.NIN_0(hn), self.NIN_1(hn), self.NIN_2(hn)
        att = torch.einsum("bchw,bcij->bhwij", q, k) * (int(c) ** -0.5)
        att = att.reshape(b, h, w, h * w).softmax(dim=-1).reshape(b, h, w, h, w)
        out = self.NIN_3(torch.einsum("bhwij,bcij->bchw", att, v))
        return (x + out) / math.sqrt(2.0) if self.skip_rescale else x + out


class FIRConv2d(nn.Module):
    """A 3x3 convolution fused with FIR downsampling (``weight``, ``bias``: score_sde's ``Conv2d_0``)."""

    def __init__(self, cin: int, cout: int, fir_kernel, kernel: int = 3):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.fir_kernel = tuple(fir_kernel)

    def forward(self, x):
        return fir_conv_downsample_2d(x, self.weight, self.fir_kernel) + self.bias.reshape(1, -1, 1, 1)


class Upsample(nn.Module):
    """2x upsampling: FIR filter (``fir``) or nearest neighbours, then a 3x3 conv if ``with_conv``."""

    def __init__(self, cin: int | None = None, cout: int | None = None, with_conv: bool = False, fir: bool = False,
                 fir_kernel=(1, 3, 3, 1)):
        super().__init__()
        if fir and with_conv:
            raise ValueError("FIR upsampling convolution is not supported (see the module docstring)")
        if with_conv:
            self.Conv_0 = conv3x3(cin, cout or cin)
        self.fir, self.with_conv, self.fir_kernel = fir, with_conv, tuple(fir_kernel)

    def forward(self, x):
        if self.fir:
            return fir_upsample_2d(x, self.fir_kernel)
        h = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.Conv_0(h) if self.with_conv else h


class Downsample(nn.Module):
    """2x downsampling: FIR filter (+ fused 3x3 conv), or a stride-2 3x3 conv after padding the right
    and bottom by one, or 2x2 average pooling."""

    def __init__(self, cin: int | None = None, cout: int | None = None, with_conv: bool = False, fir: bool = False,
                 fir_kernel=(1, 3, 3, 1)):
        super().__init__()
        if with_conv and fir:
            self.Conv2d_0 = FIRConv2d(cin, cout or cin, fir_kernel)
        elif with_conv:
            self.Conv_0 = conv3x3(cin, cout or cin, stride=2, padding=0)
        self.fir, self.with_conv, self.fir_kernel = fir, with_conv, tuple(fir_kernel)

    def forward(self, x):
        if self.fir:
            return self.Conv2d_0(x) if self.with_conv else fir_downsample_2d(x, self.fir_kernel)
        if self.with_conv:
            return self.Conv_0(F.pad(x, (0, 1, 0, 1)))
        return F.avg_pool2d(x, 2, stride=2)


class ResnetBlockDDPMpp(nn.Module):
    """DDPM's residual block: GN-act-conv, + Dense_0(act(temb)), GN-act-dropout-conv, NIN skip."""

    def __init__(self, act: nn.Module, in_ch: int, out_ch: int | None = None, temb_dim: int | None = None,
                 dropout: float = 0.1, skip_rescale: bool = False):
        super().__init__()
        out_ch = out_ch or in_ch
        self.GroupNorm_0 = group_norm(in_ch)
        self.Conv_0 = conv3x3(in_ch, out_ch)
        if temb_dim is not None:
            self.Dense_0 = nn.Linear(temb_dim, out_ch)
        self.GroupNorm_1 = group_norm(out_ch)
        self.Dropout_0 = nn.Dropout(dropout)
        self.Conv_1 = conv3x3(out_ch, out_ch)
        if in_ch != out_ch:
            self.NIN_0 = NIN(in_ch, out_ch)
        self.act, self.skip_rescale, self.in_ch, self.out_ch = act, skip_rescale, in_ch, out_ch

    def forward(self, x, temb=None):
        h = self.Conv_0(self.act(self.GroupNorm_0(x)))
        if temb is not None:
            h = h + self.Dense_0(self.act(temb))[:, :, None, None]
        h = self.Conv_1(self.Dropout_0(self.act(self.GroupNorm_1(h))))
        if self.in_ch != self.out_ch:
            x = self.NIN_0(x)
        return (x + h) / math.sqrt(2.0) if self.skip_rescale else x + h


class ResnetBlockBigGANpp(nn.Module):
    """BigGAN-style residual block with resampling inside: GN-act, resample (both paths), conv,
    + Dense_0(act(temb)), GN-act-dropout-conv; a 1x1 ``Conv_2`` on the skip where the shape changes."""

    def __init__(self, act: nn.Module, in_ch: int, out_ch: int | None = None, temb_dim: int | None = None,
                 up: bool = False, down: bool = False, dropout: float = 0.1, fir: bool = False,
                 fir_kernel=(1, 3, 3, 1), skip_rescale: bool = True):
        super().__init__()
        out_ch = out_ch or in_ch
        self.GroupNorm_0 = group_norm(in_ch)
        self.up, self.down, self.fir, self.fir_kernel = up, down, fir, tuple(fir_kernel)
        self.Conv_0 = conv3x3(in_ch, out_ch)
        if temb_dim is not None:
            self.Dense_0 = nn.Linear(temb_dim, out_ch)
        self.GroupNorm_1 = group_norm(out_ch)
        self.Dropout_0 = nn.Dropout(dropout)
        self.Conv_1 = conv3x3(out_ch, out_ch)
        self.project = in_ch != out_ch or up or down
        if self.project:
            self.Conv_2 = conv1x1(in_ch, out_ch)
        self.act, self.skip_rescale, self.in_ch, self.out_ch = act, skip_rescale, in_ch, out_ch

    def _resample(self, x):
        if self.up:
            return fir_upsample_2d(x, self.fir_kernel) if self.fir else naive_upsample_2d(x)
        if self.down:
            return fir_downsample_2d(x, self.fir_kernel) if self.fir else naive_downsample_2d(x)
        return x

    def forward(self, x, temb=None):
        h = self._resample(self.act(self.GroupNorm_0(x)))
        x = self._resample(x)
        h = self.Conv_0(h)
        if temb is not None:
            h = h + self.Dense_0(self.act(temb))[:, :, None, None]
        h = self.Conv_1(self.Dropout_0(self.act(self.GroupNorm_1(h))))
        if self.project:
            x = self.Conv_2(x)
        return (x + h) / math.sqrt(2.0) if self.skip_rescale else x + h


class Combine(nn.Module):
    """Merge the input pyramid into the features: a 1x1 conv of the pyramid, then sum or concatenate."""

    def __init__(self, dim1: int, dim2: int, method: str):
        super().__init__()
        self.Conv_0 = conv1x1(dim1, dim2)
        self.method = method

    def forward(self, pyramid, h):
        p = self.Conv_0(pyramid)
        return torch.cat([p, h], dim=1) if self.method == "cat" else p + h


# -- the network -----------------------------------------------------------------------------------


class NCSNpp(nn.Module):
    """score_sde's NCSN++ family (see the module docstring). ``NCSNpp(**fields)`` or
    ``NCSNpp(config=NCSNppConfig(...))``; ``forward(x, time_cond)``."""

    def __init__(self, config: NCSNppConfig | None = None, **fields_):
        super().__init__()
        cfg = config if config is not None else NCSNppConfig.from_dict(fields_)
        cfg.validate()
        self.cfg = cfg
        self.config = cfg.to_dict()
        self.act = act = ACTIVATIONS[cfg.nonlinearity]()
        sigmas = np.exp(np.linspace(np.log(cfg.sigma_max), np.log(cfg.sigma_min), cfg.num_scales))
        self.register_buffer("sigmas", torch.tensor(sigmas))  # float64, as in the original state

        nf, n_levels = cfg.nf, len(cfg.ch_mult)
        resolutions = [cfg.image_size >> i for i in range(n_levels)]
        channels = cfg.num_channels
        fir = dict(fir=cfg.fir, fir_kernel=cfg.fir_kernel)
        if cfg.resblock_type == "ddpm":
            def res_block(in_ch, out_ch=None, up=False, down=False):
                return ResnetBlockDDPMpp(act, in_ch, out_ch, temb_dim=4 * nf, dropout=cfg.dropout,
                                         skip_rescale=cfg.skip_rescale)
        else:
            def res_block(in_ch, out_ch=None, up=False, down=False):
                return ResnetBlockBigGANpp(act, in_ch, out_ch, temb_dim=4 * nf, up=up, down=down,
                                           dropout=cfg.dropout, skip_rescale=cfg.skip_rescale, **fir)
        if cfg.progressive == "output_skip":
            self.pyramid_upsample = Upsample(with_conv=False, **fir)
        if cfg.progressive_input == "input_skip":
            self.pyramid_downsample = Downsample(with_conv=False, **fir)

        # modules in the original's registration order; ``plan`` records what each one does in forward
        mods: list[nn.Module] = []
        plan: list[tuple[str, int]] = []

        def add(kind: str, module: nn.Module) -> None:
            plan.append((kind, len(mods)))
            mods.append(module)

        # the embedding layers come first in the original list; forward uses them directly
        self._fourier = cfg.embedding_type == "fourier"
        if self._fourier:
            mods.append(GaussianFourierProjection(nf, cfg.fourier_scale))
        if cfg.conditional:
            mods.append(nn.Linear(2 * nf if self._fourier else nf, 4 * nf))
            mods.append(nn.Linear(4 * nf, 4 * nf))

        add("conv_in", conv3x3(channels, nf))
        hs_c, in_ch, in_pyramid_ch, out_pyramid_ch = [nf], nf, channels, 0
        for level in range(n_levels):
            for _ in range(cfg.num_res_blocks):
                out_ch = nf * cfg.ch_mult[level]
                add("down_res", res_block(in_ch, out_ch))
                in_ch = out_ch
                if resolutions[level] in cfg.attn_resolutions:
                    add("down_attn", AttnBlockpp(in_ch, cfg.skip_rescale))
                plan.append(("push", -1))
                hs_c.append(in_ch)
            if level != n_levels - 1:
                if cfg.resblock_type == "ddpm":
                    add("downsample", Downsample(in_ch, with_conv=cfg.resamp_with_conv, **fir))
                else:
                    add("down_res_resample", res_block(in_ch, down=True))
                if cfg.progressive_input == "input_skip":
                    add("combine", Combine(in_pyramid_ch, in_ch, cfg.progressive_combine))
                    if cfg.progressive_combine == "cat":
                        in_ch *= 2
                elif cfg.progressive_input == "residual":
                    add("pyramid_down", Downsample(in_pyramid_ch, in_ch, with_conv=True, **fir))
                    in_pyramid_ch = in_ch
                plan.append(("push", -1))
                hs_c.append(in_ch)

        in_ch = hs_c[-1]
        add("mid_res", res_block(in_ch))
        add("mid_attn", AttnBlockpp(in_ch, cfg.skip_rescale))
        add("mid_res", res_block(in_ch))

        for level in reversed(range(n_levels)):
            for _ in range(cfg.num_res_blocks + 1):
                out_ch = nf * cfg.ch_mult[level]
                add("up_res", res_block(in_ch + hs_c.pop(), out_ch))
                in_ch = out_ch
            if resolutions[level] in cfg.attn_resolutions:
                add("up_attn", AttnBlockpp(in_ch, cfg.skip_rescale))
            if cfg.progressive != "none":
                top = level == n_levels - 1
                if cfg.progressive == "output_skip":
                    add("head_norm", group_norm(in_ch))
                    add("head_conv" if top else "head_conv_add", conv3x3(in_ch, channels))
                    out_pyramid_ch = channels
                elif top:  # residual: the head starts the pyramid; the features go on unchanged
                    add("head_norm", group_norm(in_ch))
                    add("head_conv", conv3x3(in_ch, in_ch))
                    out_pyramid_ch = in_ch
                else:
                    add("pyramid_up", Upsample(out_pyramid_ch, in_ch, with_conv=True, **fir))
                    out_pyramid_ch = in_ch
            if level != 0:
                if cfg.resblock_type == "ddpm":
                    add("upsample", Upsample(in_ch, with_conv=cfg.resamp_with_conv, **fir))
                else:
                    add("up_res_resample", res_block(in_ch, up=True))
        if hs_c:
            raise AssertionError("NCSN++ construction left unused skip connections")
        if cfg.progressive != "output_skip":
            add("out_norm", group_norm(in_ch))
            add("out_conv", conv3x3(in_ch, channels))
        self.all_modules = nn.ModuleList(mods)
        self._plan = plan
        # the parameters an EMA shadow list covers, in its order (the original keeps lists of those
        # with requires_grad; the Fourier projection's W has none)
        self._ema_names = [n for n, p in self.named_parameters() if p.requires_grad]

    def embed(self, time_cond: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
        """The time embedding every residual block receives (None for an unconditional network)."""
        if not self.cfg.conditional:
            return None
        m, i = self.all_modules, int(self._fourier)
        e = m[0](torch.log(time_cond)) if self._fourier else timestep_embedding(time_cond, self.cfg.nf)
        return m[i + 1](self.act(m[i](e.to(dtype))))

    def forward(self, x: torch.Tensor, time_cond: torch.Tensor) -> torch.Tensor:
        cfg, m, act = self.cfg, self.all_modules, self.act
        temb = self.embed(time_cond, x.dtype)
        if not cfg.centered:
            x = 2 * x - 1.0
        in_pyramid, pyramid, head, h, hs = x, None, None, x, []
        for kind, i in self._plan:
            if kind == "conv_in":
                h = m[i](x)
                hs.append(h)
            elif kind in ("down_res", "mid_res", "up_res_resample", "down_res_resample"):
                h = m[i](h, temb)
            elif kind in ("down_attn", "mid_attn", "up_attn"):
                h = m[i](h)
            elif kind == "push":
                hs.append(h)
            elif kind == "downsample":
                h = m[i](h)
            elif kind == "combine":
                in_pyramid = self.pyramid_downsample(in_pyramid)
                h = m[i](in_pyramid, h)
            elif kind == "pyramid_down":
                in_pyramid = m[i](in_pyramid)
                in_pyramid = (in_pyramid + h) / math.sqrt(2.0) if cfg.skip_rescale else in_pyramid + h
                h = in_pyramid
            elif kind == "up_res":
                h = m[i](torch.cat([h, hs.pop()], dim=1), temb)
            elif kind == "head_norm":
                head = act(m[i](h))
            elif kind == "head_conv":
                pyramid = m[i](head)
            elif kind == "head_conv_add":
                pyramid = self.pyramid_upsample(pyramid) + m[i](head)
            elif kind == "pyramid_up":
                pyramid = m[i](pyramid)
                pyramid = (pyramid + h) / math.sqrt(2.0) if cfg.skip_rescale else pyramid + h
                h = pyramid
            elif kind == "upsample":
                h = m[i](h)
            elif kind == "out_norm":
                h = act(m[i](h))
            elif kind == "out_conv":
                h = m[i](h)
            else:  # pragma: no cover - the plan is built above
                raise AssertionError(kind)
        if cfg.progressive == "output_skip":
            h = pyramid
        if cfg.scale_by_sigma:
            used = time_cond if cfg.embedding_type == "fourier" else self.sigmas[time_cond.long()]
            h = h / used.to(h.dtype).reshape(-1, *([1] * (h.ndim - 1)))
        return h

    def ema_parameter_names(self) -> list[str]:
        """Names of the parameters an EMA shadow list covers, in its order."""
        return list(self._ema_names)
