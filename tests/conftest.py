"""Shared test setup: an isolated cache per test session unless RFBENCH_CACHE is set by the caller
(CI sets it so trained checkpoints are reused across test files within one run).

The tests mirror the package (tests/metrics/, tests/reporting/, tests/runner/, ...); tests that train
catalogue models or run suites live in tests/integration/, where every test is marked ``slow``, so
``python -m pytest -m "not slow"`` is the fast loop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

pytest_plugins = ["pytester"]


def pytest_configure(config):
    if "RFBENCH_CACHE" not in os.environ:
        import tempfile

        os.environ["RFBENCH_CACHE"] = tempfile.mkdtemp(prefix="rfbench-test-cache-")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if INTEGRATION in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def gmm_rf():
    from rfbench.models import get_model

    return get_model("analytic-gmm-rf").double()


@pytest.fixture
def gmm_vp():
    from rfbench.models import get_model

    return get_model("analytic-gmm-vp").double()
