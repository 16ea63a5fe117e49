"""The network tests run with one torch thread: their many small ops are dominated by thread
synchronisation on a shared, oversubscribed CPU (a small forward pass took 10 s with 2 threads and
0.3 s with 1 under load); the previous setting is restored after each test."""

from __future__ import annotations

import pytest

from rfbench.metrics.timing import one_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield
