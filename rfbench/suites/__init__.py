"""The built-in benchmark suites. Each module defines one :class:`~rfbench.runner.suite.Suite` and
registers it in the runner's suite registry (:data:`rfbench.runner.suite.SUITES`).

The repository's ``suites/test_suite.py`` runs a registered suite as pytest tests, one test per cell
(``pytest suites/ --rfbench-suite toy2d -k heun``).
"""

from __future__ import annotations

from ..runner.suite import SUITES, catalogue_samplers, get_suite, register_suite
from . import cifar10, digits, toy2d  # noqa: F401  (registers)

__all__ = ["SUITES", "catalogue_samplers", "get_suite", "register_suite"]
