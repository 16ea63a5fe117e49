"""Shared test setup: an isolated cache per test session unless RFBENCH_CACHE is set by the caller
(CI sets it so trained checkpoints are reused across test files within one run)."""

from __future__ import annotations

import os

import pytest
import torch

pytest_plugins = ["pytester"]


def pytest_configure(config):
    if "RFBENCH_CACHE" not in os.environ:
        import tempfile

        os.environ["RFBENCH_CACHE"] = tempfile.mkdtemp(prefix="rfbench-test-cache-")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def gmm_rf():
    from rfbench.models import get_model

    return get_model("analytic-gmm-rf").double()


@pytest.fixture
def gmm_vp():
    from rfbench.models import get_model

    return get_model("analytic-gmm-vp").double()
