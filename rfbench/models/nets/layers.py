"""Building blocks shared by the networks of the released checkpoints, in plain PyTorch.

Two families of layers live here:

* FIR resampling for score_sde's NCSN++ (``fir=True``): the StyleGAN2 "upfirdn" operation (zero-insert
  upsampling, padding, a 2-D FIR filter, subsampling) written with ``F.pad`` and a depthwise
  ``conv2d`` instead of a compiled CUDA kernel, and the resamplers built on it.
* The layer set of EDM's networks (SongUNet and DhariwalUNet): a linear layer and a 3x3/1x1
  convolution with optional resampling through a registered ``resample_filter`` buffer, group norm
  with at least 4 channels per group, the U-Net block and the two noise embeddings. Parameter and
  buffer names and shapes are those of the released pickles, so their state loads one to one.

Nothing here initialises weights the way the papers trained them: the networks are for loading
released weights (or a cheap random init for plumbing tests).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# -- FIR resampling (score_sde / StyleGAN2 conventions) ------------------------------------------------


def fir_kernel_2d(k, gain: float = 1.0) -> torch.Tensor:
    """A separable 1-D filter ``k`` as its normalised 2-D outer product (sums to ``gain``), float64."""
    k = torch.as_tensor(k, dtype=torch.float64)
    if k.ndim == 1:
        k = torch.outer(k, k)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"FIR filter must be 1-D or square 2-D, got shape {tuple(k.shape)}")
    return k / k.sum() * gain


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)):
    """Upsample by zero insertion, pad (a negative pad crops), convolve with ``kernel``, keep every
    ``down``-th sample; the same padding on both spatial axes. The filter is applied as a true
    convolution (flipped), as in StyleGAN2's definition. x: (N, C, H, W) -> (N, C, H', W')."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, [p0, p1, p0, p1])
    weight = torch.flip(kernel, [0, 1]).to(dtype=x.dtype, device=x.device)
    weight = weight[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=down, groups=c)


def fir_upsample_2d(x: torch.Tensor, k, factor: int = 2) -> torch.Tensor:
    """Upsample by ``factor`` with FIR filter ``k`` (gain factor^2 keeps a constant image constant)."""
    kernel = fir_kernel_2d(k, gain=factor**2)
    p = kernel.shape[0] - factor
    return upfirdn2d(x, kernel, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def fir_downsample_2d(x: torch.Tensor, k, factor: int = 2) -> torch.Tensor:
    """Downsample by ``factor`` after filtering with FIR filter ``k``."""
    kernel = fir_kernel_2d(k)
    p = kernel.shape[0] - factor
    return upfirdn2d(x, kernel, down=factor, pad=((p + 1) // 2, p // 2))


def fir_conv_downsample_2d(x: torch.Tensor, weight: torch.Tensor, k, factor: int = 2) -> torch.Tensor:
    """Filter with ``k`` and convolve with ``weight`` at stride ``factor``, padding once up front."""
    kernel = fir_kernel_2d(k)
    p = (kernel.shape[0] - factor) + (weight.shape[-1] - 1)
    x = upfirdn2d(x, kernel, pad=((p + 1) // 2, p // 2))
    return F.conv2d(x, weight, stride=factor)


def naive_upsample_2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling by repetition."""
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def naive_downsample_2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Average pooling over factor x factor blocks."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // factor, factor, w // factor, factor).mean(dim=(3, 5))


# -- EDM's layer set ----------------------------------------------------------------------------------


def _param(*shape: int) -> nn.Parameter:
    """A zero parameter: these networks exist to load released weights, so no time goes into a random
    init (``init_random_`` gives one for plumbing tests)."""
    return nn.Parameter(torch.zeros(*shape))


class Linear(nn.Module):
    """y = x W^T + b with ``weight`` (out, in) and optional ``bias`` (out,)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _param(out_features, in_features)
        self.bias = _param(out_features) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))


class Conv2d(nn.Module):
    """A square convolution (``kernel`` 0 = no weights: resampling only) with optional 2x up- or
    downsampling through the normalised outer product of ``resample_filter`` (a buffer present only
    when resampling).

    Unfused: resample with the depthwise filter, then convolve. Fused (``fused_resample``): for
    downsampling, convolve at full resolution with the combined padding and then filter at stride 2;
    for upsampling, filter-transpose first and convolve with the left-over padding.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True, up: bool = False,
                 down: bool = False, resample_filter=(1, 1), fused_resample: bool = False):
        if up and down:
            raise ValueError("Conv2d: up and down are exclusive")
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.up, self.down, self.fused_resample = up, down, fused_resample
        self.weight = _param(out_channels, in_channels, kernel, kernel) if kernel else None
        self.bias = _param(out_channels) if kernel and bias else None
        f = torch.as_tensor(list(resample_filter), dtype=torch.float32)
        f = torch.outer(f, f)[None, None] / f.sum() ** 2
        self.register_buffer("resample_filter", f if (up or down) else None)

    def forward(self, x):
        w = None if self.weight is None else self.weight.to(x.dtype)
        f = None if self.resample_filter is None else self.resample_filter.to(x.dtype)
        w_pad = w.shape[-1] // 2 if w is not None else 0
        f_pad = (f.shape[-1] - 1) // 2 if f is not None else 0
        if self.fused_resample and self.up and w is not None:
            x = F.conv_transpose2d(x, (4 * f).tile(self.in_channels, 1, 1, 1), groups=self.in_channels, stride=2,
                                   padding=max(f_pad - w_pad, 0))
            x = F.conv2d(x, w, padding=max(w_pad - f_pad, 0))
        elif self.fused_resample and self.down and w is not None:
            x = F.conv2d(x, w, padding=w_pad + f_pad)
            x = F.conv2d(x, f.tile(self.out_channels, 1, 1, 1), groups=self.out_channels, stride=2)
        else:
            if self.up:
                x = F.conv_transpose2d(x, (4 * f).tile(self.in_channels, 1, 1, 1), groups=self.in_channels, stride=2,
                                       padding=f_pad)
            if self.down:
                x = F.conv2d(x, f.tile(self.in_channels, 1, 1, 1), groups=self.in_channels, stride=2, padding=f_pad)
            if w is not None:
                x = F.conv2d(x, w, padding=w_pad)
        if self.bias is not None:
            x = x + self.bias.to(x.dtype).reshape(1, -1, 1, 1)
        return x


class GroupNorm(nn.Module):
    """Group norm with min(num_groups, C // min_channels_per_group) groups, affine ``weight``/``bias``."""

    def __init__(self, num_channels: int, num_groups: int = 32, min_channels_per_group: int = 4, eps: float = 1e-5):
        super().__init__()
        self.num_groups = min(num_groups, num_channels // min_channels_per_group)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)


class PositionalEmbedding(nn.Module):
    """Transformer sinusoids of a scalar: [cos(x f_k), sin(x f_k)], f_k = (1/max_positions)^(k/(K - e)),
    k = 0..K-1, K = num_channels/2, e = 1 with ``endpoint`` (the last frequency is then 1/max_positions)."""

    def __init__(self, num_channels: int, max_positions: int = 10000, endpoint: bool = False):
        super().__init__()
        self.num_channels, self.max_positions, self.endpoint = num_channels, max_positions, endpoint

    def forward(self, x):
        half = self.num_channels // 2
        k = torch.arange(half, dtype=torch.float32, device=x.device) / (half - (1 if self.endpoint else 0))
        freqs = (1 / self.max_positions) ** k
        arg = torch.outer(x, freqs.to(x.dtype))
        return torch.cat([arg.cos(), arg.sin()], dim=1)


class FourierEmbedding(nn.Module):
    """Random Fourier features [cos(2 pi f x), sin(2 pi f x)] with frequencies in the buffer ``freqs``."""

    def __init__(self, num_channels: int, scale: float = 16):
        super().__init__()
        self.register_buffer("freqs", torch.randn(num_channels // 2) * scale)

    def forward(self, x):
        arg = torch.outer(x, (2 * math.pi * self.freqs).to(x.dtype))
        return torch.cat([arg.cos(), arg.sin()], dim=1)


class UNetBlock(nn.Module):
    """EDM's residual block, the union of the DDPM++, NCSN++ and ADM blocks.

    GN-SiLU-conv0 (with optional resampling), the embedding as a bias (``adaptive_scale=False``) or as
    a scale and shift of the second norm, GN-SiLU-dropout-conv1, plus the skip path (a 1x1 conv where
    channels change, or a resampling-only "conv" when only the resolution does), times ``skip_scale``.
    With attention (``num_heads`` > 0): multi-head self-attention over pixels, again residual and
    scaled by ``skip_scale``.
    """

    def __init__(self, in_channels: int, out_channels: int, emb_channels: int, up: bool = False, down: bool = False,
                 attention: bool = False, num_heads: int | None = None, channels_per_head: int = 64,
                 dropout: float = 0.0, skip_scale: float = 1.0, eps: float = 1e-5, resample_filter=(1, 1),
                 resample_proj: bool = False, adaptive_scale: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.emb_channels = in_channels, out_channels, emb_channels
        if not attention:
            self.num_heads = 0
        else:
            self.num_heads = num_heads if num_heads is not None else out_channels // channels_per_head
        self.dropout, self.skip_scale, self.adaptive_scale = dropout, float(skip_scale), adaptive_scale

        self.norm0 = GroupNorm(in_channels, eps=eps)
        self.conv0 = Conv2d(in_channels, out_channels, 3, up=up, down=down, resample_filter=resample_filter)
        self.affine = Linear(emb_channels, out_channels * (2 if adaptive_scale else 1))
        self.norm1 = GroupNorm(out_channels, eps=eps)
        self.conv1 = Conv2d(out_channels, out_channels, 3)
        self.skip = None
        if out_channels != in_channels or up or down:
            kernel = 1 if (resample_proj or out_channels != in_channels) else 0
            self.skip = Conv2d(in_channels, out_channels, kernel, up=up, down=down, resample_filter=resample_filter)
        if self.num_heads:
            self.norm2 = GroupNorm(out_channels, eps=eps)
            self.qkv = Conv2d(out_channels, 3 * out_channels, 1)
            self.proj = Conv2d(out_channels, out_channels, 1)

    def forward(self, x, emb):
        h = self.conv0(F.silu(self.norm0(x)))
        params = self.affine(emb)[:, :, None, None].to(h.dtype)
        if self.adaptive_scale:
            scale, shift = params.chunk(2, dim=1)
            h = F.silu(torch.addcmul(shift, self.norm1(h), scale + 1))
        else:
            h = F.silu(self.norm1(h + params))
        h = self.conv1(F.dropout(h, p=self.dropout, training=self.training))
        h = (h + (self.skip(x) if self.skip is not None else x)) * self.skip_scale
        if self.num_heads:
            h = (self.proj(self._attention(self.norm2(h))) + h) * self.skip_scale
        return h

    def _attention(self, x):
        # per head: c = C/heads channels, softmax over keys of q.k / sqrt(c); the qkv conv's output
        # channels are grouped as (head, channel, [q, k, v]), i.e. q/k/v interleaved per channel
        b, ch, hgt, wid = x.shape
        q, k, v = self.qkv(x).reshape(b * self.num_heads, ch // self.num_heads, 3, hgt * wid).unbind(2)
        dtype = torch.promote_types(q.dtype, torch.float32)  # EDM forms the softmax in float32 at least
        w = torch.einsum("ncq,nck->nqk", q.to(dtype), (k / math.sqrt(k.shape[1])).to(dtype)).softmax(dim=2)
        w = w.to(q.dtype)
        return torch.einsum("nqk,nck->ncq", w, v).reshape(b, ch, hgt, wid)


def init_random_(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """A cheap random initialisation for plumbing tests: weights N(0, 1/fan_in), biases 0, norms the
    identity, Fourier frequencies N(0, 16^2), fixed buffers untouched. Released weights replace it all."""
    with torch.no_grad():
        for mod in module.modules():
            if isinstance(mod, (GroupNorm, nn.GroupNorm)):
                mod.weight.fill_(1.0)
                mod.bias.zero_()
                continue
            for name, p in mod.named_parameters(recurse=False):
                if p.ndim >= 2:
                    # fan-in is the input axis: dim 1 for (out, in, ...) weights, dim 0 for score_sde's NIN (in, out)
                    fan_in = p.shape[0] if name == "W" else p[0].numel()
                    p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))
                elif name == "W":  # score_sde's Gaussian Fourier projection
                    p.copy_(torch.randn(p.shape, generator=generator) * 16)
                else:
                    p.zero_()
            for name, b in mod.named_buffers(recurse=False):
                if name == "freqs":
                    b.copy_(torch.randn(b.shape, generator=generator) * 16)
    return module
