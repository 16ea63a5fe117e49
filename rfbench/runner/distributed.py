"""One cell over several processes (``torchrun``): samples split by index, results merged.

``torchrun --nproc_per_node=G -m rfbench run SUITE ...`` starts G ranks of one worker. Rank 0 makes
every decision about the store (which cell next, claims, records) and broadcasts it; all ranks run
the cell together:

* the cell's samples are split by index (rank r takes the r-th contiguous block of the suite's
  noise; every sample's noise is drawn from its seed alone, so an image does not depend on the rank
  count or the batch size), sampled on each rank and gathered in index order: the metrics of the
  cell's main sample then see exactly the samples one process would have drawn (up to float
  round-off of batched matrix products);
* the FID samples (``fid_n``, 50,000 at full size: the expensive part) are split by noise block;
  each rank accumulates float64 mergeable statistics (count, sum, sum of outer products:
  :class:`~rfbench.metrics.frechet.MergeableStats`) and they are summed with ``all_reduce`` (NCCL on
  GPUs, gloo on CPUs), or later from per-shard files on disk when no process group exists.

Samplers whose steps depend on the whole batch (adaptive ones share one step size) are not split:
every rank runs them on all samples. Reference solutions, calibrations and trained refiners are
computed per rank too (the first one cached serves later cells); see docs/cluster.md.
"""

from __future__ import annotations

import dataclasses

from ..parallel import (active, all_reduce_sum, broadcast, env_world, gather_blocks, index_block, init_from_env,
                        rank, shutdown, world)


def split_sample(model, spec, nfe, *, noise: torch.Tensor, **kwargs):
    """:func:`rfbench.samplers.sample` with the samples split by index over the ranks and gathered."""
    from ..samplers import get_sampler, sample

    spec = get_sampler(spec) if isinstance(spec, str) else spec
    if not active() or spec.adaptive:
        return sample(model, spec, nfe, noise=noise, **kwargs)
    part = sample(model, spec, nfe, noise=noise[index_block(len(noise))], **kwargs)
    counts = [None] * world()
    import torch.distributed as dist

    dist.all_gather_object(counts, part.nfe_measured)
    if len(set(counts)) != 1:
        raise AssertionError(f"sampler {spec.name!r} made different numbers of evaluations on different ranks: {counts}")
    return dataclasses.replace(part, x=gather_blocks(part.x), noise=noise)


__all__ = ["active", "all_reduce_sum", "broadcast", "env_world", "gather_blocks", "index_block", "init_from_env",
           "rank", "shutdown", "split_sample", "world"]
