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
import os

import torch

_STATE = {"initialised_here": False}


def env_world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (0, 1, 0 without it)."""
    def get(name, default):
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            return default
    return get("RANK", 0), get("WORLD_SIZE", 1), get("LOCAL_RANK", 0)


def active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if active() else 0


def world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if active() else 1


def init_from_env(device: str | torch.device = "cpu") -> str:
    """Start the process group torchrun asked for (WORLD_SIZE > 1); returns the device this rank
    uses: ``cuda`` becomes ``cuda:LOCAL_RANK``. NCCL on CUDA, gloo on CPU."""
    import torch.distributed as dist

    _, size, local = env_world()
    device = str(device)
    if size <= 1:
        return device
    if device == "cuda":
        device = f"cuda:{local}"
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group(backend=backend)
        _STATE["initialised_here"] = True
    return device


def shutdown() -> None:
    import torch.distributed as dist

    if _STATE["initialised_here"] and dist.is_initialized():
        dist.destroy_process_group()
        _STATE["initialised_here"] = False


def broadcast(obj):
    """``obj`` of rank 0 on every rank (itself without a process group)."""
    if not active():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def index_block(n: int, r: int | None = None, size: int | None = None) -> slice:
    """The contiguous block of ``range(n)`` rank ``r`` of ``size`` takes (sizes differ by at most 1)."""
    r = rank() if r is None else r
    size = world() if size is None else size
    return slice(n * r // size, n * (r + 1) // size)


def gather_blocks(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``x`` in rank order (on every rank), on ``x``'s device."""
    if not active():
        return x
    import torch.distributed as dist

    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, x.detach().cpu())
    return torch.cat(parts).to(x.device)


def all_reduce_sum(t: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """Sum of ``t`` over ranks (float64 stays float64), returned on the CPU."""
    if not active():
        return t
    import torch.distributed as dist

    buf = t.to(device)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.cpu()


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
