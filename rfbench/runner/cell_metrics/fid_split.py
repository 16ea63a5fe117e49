"""FID samples split by index over torchrun ranks (the rest of the torchrun runner is
:mod:`rfbench.runner.distributed`): each rank generates and featurises its block of the ``fid_n``
samples; the float64 statistics are summed over ranks."""

from __future__ import annotations

import torch

from ...parallel import active, gather_blocks, index_block, world


def fid_noise_range(model, seed: int, start: int, stop: int, batch: int, *, block_size: int, seed_of):
    """Float64 CPU noise of FID samples ``start`` to ``stop``, in batches: noise is drawn per block of
    ``block_size`` samples from generator seed ``seed_of(seed, block)`` (as
    :func:`rfbench.runner.cell_metrics.images.fid_noise` draws it), so sample i's noise is the same whatever
    the split."""
    NOISE_BLOCK, fid_noise_seed = block_size, seed_of
    i = start
    while i < stop:
        take = min(batch, stop - i)
        blocks = range(i // NOISE_BLOCK, (i + take - 1) // NOISE_BLOCK + 1)
        flat = torch.cat([model.prior.sample(NOISE_BLOCK, model.data_shape,
                                             torch.Generator().manual_seed(fid_noise_seed(seed, b))) for b in blocks])
        offset = i - blocks[0] * NOISE_BLOCK
        yield flat[offset: offset + take]
        i += take


def fid_stats(ctx, cell, extractor, n: int, batch: int, *, keep: int = 0, shift=None, block_size: int, seed_of):
    """Statistics of the cell's ``n`` FID samples, each rank generating and featurising its block of
    sample indices; returns (FeatureStats, first ``keep`` features or None) on every rank.

    Above the feature dimension the ranks' float64 sums are added (:class:`MergeableStats`, around
    ``shift``, e.g. the reference mean); at or below it the features themselves are gathered, so
    the exact low-rank trace of :mod:`rfbench.metrics.frechet` still applies."""
    import torch.distributed as dist

    from ...samplers import get_sampler, sample
    from ...metrics.fid import to_uint8
    from ...metrics.frechet import MergeableStats, stats_from_features

    model = ctx.model(cell.model)
    spec = get_sampler(cell.sampler)
    options = dict(ctx.suite.sampler_options.get(cell.sampler, {}))
    block = index_block(n)
    feats_kept, acc, dim = [], None, None
    for noise in fid_noise_range(model, cell.seed, block.start, block.stop, batch, block_size=block_size,
                                 seed_of=seed_of):
        res = sample(model, spec, cell.nfe, noise=noise.to(ctx.device, ctx.dtype_for(cell.model)), **options)
        if res.nfe_expected is not None and res.nfe_measured != res.nfe_expected:
            raise AssertionError(f"FID samples: sampler {spec.name!r} made {res.nfe_measured} evaluations, "
                                 f"planned {res.nfe_expected}")
        feats = extractor(to_uint8(res.x)).detach().to("cpu", torch.float64)
        dim = feats.shape[1]
        acc = acc or MergeableStats(dim, shift)
        acc.update(feats)
        feats_kept.append(feats)
    mine = torch.cat(feats_kept) if feats_kept else torch.zeros(0, 0, dtype=torch.float64)
    dims = [None] * world()
    if active():
        dist.all_gather_object(dims, dim)
    else:
        dims = [dim]
    dim = max(d for d in dims if d is not None)
    wanted = max(keep, n if n <= (dim or 0) else 0)
    kept = None
    if wanted:
        upto = max(0, min(block.stop, wanted) - block.start)
        kept = gather_blocks(mine[:upto].reshape(upto, dim))[:wanted]
    if n <= dim:
        stats = stats_from_features(kept[:n])
    else:
        acc = acc or MergeableStats(dim, shift)
        stats = acc.all_reduce(device=ctx.device).result()
    return stats, (kept[:keep] if keep and kept is not None else None)
