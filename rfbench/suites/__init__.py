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


def catalogue_samplers(exclude: tuple[str, ...] = ()) -> list[str]:
    """Every sampler rfbench itself registers (defined in an ``rfbench.`` module), in registration
    order: suites list these, so a sampler added to the package joins every suite, while samplers
    registered by tests or user scripts do not."""
    from ..samplers import SAMPLERS

    return [n for n in SAMPLERS if n not in exclude
            and getattr(SAMPLERS.get(n).fn, "__module__", "").startswith("rfbench.")]


from . import cifar10, digits, toy2d  # noqa: E402,F401  (registers)

__all__ = ["SUITES", "catalogue_samplers", "get_suite", "register_suite"]
