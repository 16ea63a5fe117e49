"""Wall-clock timing: median over repeats after warm-up, synchronising the device.

On CUDA, each repeat is timed with CUDA events (recorded on the current stream, then
synchronised), so asynchronous kernel launches are not mistaken for finished work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


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
