"""Registered benchmark suites. Each module defines one :class:`~rfbench.runner.suite.Suite`.

The pytest-style files in the repository's ``suites/`` folder run the same definitions, one test
per cell (``pytest suites/toy2d.py -k heun``).
"""

from __future__ import annotations

from ..registry import Registry
from ..runner.suite import Suite

SUITES: Registry[Suite] = Registry("suite")


def register_suite(suite: Suite) -> Suite:
    return SUITES.register(suite.name, suite)


def get_suite(name: str) -> Suite:
    return SUITES.get(name)


from . import cifar10, toy2d  # noqa: E402,F401  (registers)

__all__ = ["SUITES", "get_suite", "register_suite"]
