"""Helpers for the golden-file tests: the deterministic fill rule of tests/data/nets/README.md."""

from __future__ import annotations

import gzip
import json
import math
import zlib
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).resolve().parent.parent / "data" / "nets"
SKIP = ("sigmas", "resample_filter", "u")  # buffers fixed by the config: left as constructed


def fill_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Fill every parameter and buffer (except the config-fixed ones) from a generator seeded by
    seed + crc32(name): N(0, 1) / sqrt(prod(shape[1:])) for tensors of 2+ dims, N(0, 1) for 1-D Fourier
    frequencies (W, freqs), 1 + 0.1 N(0, 1) for other 1-D weights, 0.1 N(0, 1) for the rest."""
    sd = module.state_dict(keep_vars=True)
    with torch.no_grad():
        for name in sorted(sd):
            t, last = sd[name], name.rsplit(".", 1)[-1]
            if last in SKIP:
                continue
            g = torch.Generator().manual_seed(seed + zlib.crc32(name.encode()))
            z = torch.randn(tuple(t.shape), generator=g, dtype=torch.float64)
            if t.ndim >= 2:
                v = z / math.sqrt(int(np.prod(t.shape[1:])))
            elif last in ("W", "freqs"):
                v = z
            elif last == "weight":
                v = 1 + 0.1 * z
            else:
                v = 0.1 * z
            t.copy_(v.to(t.dtype))
    return module


def load_golden():
    """(arrays, meta) of tests/data/nets/golden.{npz,json.gz}: arrays[variant][key] -> tensor,
    meta[variant] -> {repository, config or precond + init_kwargs, manifest}."""
    with gzip.open(DATA / "golden.json.gz", "rt") as f:
        meta = json.load(f)
    arrays: dict[str, dict[str, torch.Tensor]] = {}
    with np.load(DATA / "golden.npz") as z:
        for key in z.files:
            variant, name = key.split("/", 1)
            arrays.setdefault(variant, {})[name] = torch.from_numpy(z[key])
    return arrays, meta


def load_manifests() -> dict:
    """Full-size manifests: name -> {tensors: {name: shape}, parameters, parameter_order, ...}."""
    with gzip.open(DATA / "manifests.json.gz", "rt") as f:
        return json.load(f)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max())
