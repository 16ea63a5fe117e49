"""The network tests run with one torch thread: their many small ops are dominated by thread
synchronisation on a shared, oversubscribed CPU (a small forward pass took 10 s with 2 threads and
0.3 s with 1 under load); the previous setting is restored after each test."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
