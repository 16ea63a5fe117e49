"""Sampling class-conditional models with one label per sample, kept aligned under batching.

>>> out = sample_conditional(model, "heun", nfe=8, n=64, seed=0)          # labels drawn per sample
>>> out = sample_conditional(model, "heun", nfe=8, n=64, labels=torch.full((64,), 3))
>>> out.info["labels"]                                                      # the labels used, (n,)

Labels not given are drawn by :func:`rfbench.models.nets.flows.draw_labels` from (``label_seed``,
sample index), so sample i has the same label in any batching (``batch_size``) and in a shard that
passes its global ``indices``. Each batch runs under ``model.condition(labels[batch])``.
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError
from ..models.nets.flows import ReleasedFlow, draw_labels, one_hot
from .api import SampleResult, sample


def sample_conditional(model: ReleasedFlow, sampler, nfe: int | None = None, *, labels=None, noise=None,
                       n: int | None = None, seed: int = 0, label_seed: int | None = None, indices=None,
                       batch_size: int | None = None, **options) -> SampleResult:
    """:func:`rfbench.sample` for a class-conditional model (see the module docstring).

    labels: class indices (n,) or one-hot rows; default: drawn per sample from ``label_seed`` (default
    ``seed``) and the sample's index (``indices``, default 0..n-1). Other arguments as in ``sample``.
    """
    if not getattr(model, "label_dim", 0):
        raise InvalidInputError(f"model {getattr(model, 'name', model)!r} is not class-conditional; use rfbench.sample")
    if noise is None:
        if n is None or isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidInputError(f"pass noise=<tensor> or a positive integer n=, got n={n!r}")
        noise = model.sample_prior(n, seed=seed, dtype=torch.float64)
    count = noise.shape[0]
    if labels is None:
        idx = list(range(count)) if indices is None else [int(i) for i in indices]
        if len(idx) != count:
            raise InvalidInputError(f"indices has {len(idx)} entries for {count} samples")
        labels = draw_labels(model.label_dim, seed=seed if label_seed is None else label_seed, indices=idx)
    hot = one_hot(labels, model.label_dim, what="labels")
    if hot.shape[0] != count:
        raise InvalidInputError(f"{hot.shape[0]} labels for {count} samples; give one label per sample")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}")
    step = batch_size or count
    results = []
    for start in range(0, count, step):
        with model.condition(hot[start:start + step]):
            results.append(sample(model, sampler, nfe, noise=noise[start:start + step], seed=seed, **options))
    first = results[0]
    counts = [r.nfe_measured for r in results]
    info = dict(first.info)
    info["labels"] = hot.argmax(dim=1)
    if len(set(counts)) > 1:
        info["nfe_per_batch"] = ",".join(map(str, counts))
    return SampleResult(x=torch.cat([r.x for r in results]), noise=noise, ts=first.ts, sampler=first.sampler,
                        nfe_requested=nfe, nfe_measured=round(sum(counts) / len(counts)),
                        nfe_expected=first.nfe_expected, info=info, grid=first.grid)
