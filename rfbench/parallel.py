"""torch.distributed in a few functions: rank, world size, index blocks, gather, broadcast, sums.

Everything here is a no-op without a process group of more than one rank (one process computes
what all ranks would), so callers need no special case. Used by the runner (one cell over ranks,
:mod:`rfbench.runner.distributed`) and by metrics that split their samples (FID).
"""

from __future__ import annotations

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
