"""Wall-clock timing: median (tiny CPU draws: minimum on one thread) over repeats after warm-up.

On CUDA, each repeat is timed with CUDA events (recorded on the current stream, then
synchronised), so asynchronous kernel launches are not mistaken for finished work.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import torch

# A CPU draw whose samples have at most this many numbers each (the 2-D toys) is timed on one thread,
# by the minimum of the repeats: on such tensors torch's thread pool adds start-up and scheduling
# noise larger than the work (wall clock varied 4x between seeds of one toy2d cell on 2 threads).
TINY_NUMEL = 64


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 inside, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_callable(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1,
                  device: torch.device | str = "cpu") -> dict:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times; return seconds (median, all)."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1000.0)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "all_s": times,
            "method": "cuda-events" if device.type == "cuda" else "perf_counter"}


def time_draw(fn: Callable[[], object], *, repeats: int, device: torch.device, numel: int) -> dict:
    """:func:`time_callable` for a sampling call: the median on the run's threads, or for a tiny CPU
    draw (``numel`` per sample <= TINY_NUMEL) the minimum on one thread. Adds ``value_s``,
    ``threads`` and ``statistic`` to its result."""
    tiny = torch.device(device).type == "cpu" and numel <= TINY_NUMEL
    with one_thread() if tiny else contextlib.nullcontext():
        t = time_callable(fn, repeats=repeats, warmup=0, device=device)
        threads = torch.get_num_threads()
    return {**t, "value_s": min(t["all_s"]) if tiny else t["median_s"], "threads": threads,
            "statistic": "min" if tiny else "median"}
