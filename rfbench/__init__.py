"""rfbench: a benchmark and evaluation suite for flow-based generative samplers.

Public surface:

* ``rfbench.sample(model, sampler, nfe=..., noise=... | n=...)`` -> :class:`SampleResult`
* ``rfbench.models``: ``get_model``, ``from_velocity``, the model registry
* ``rfbench.training``: recipes and training of the trained catalogue (``make_recipe``, ``load_trained``)
* ``rfbench.samplers``: the sampler registry, time grids, ``reference_solution``
* ``rfbench.metrics``: ref_rmse, straightness, w2 / sliced W2, timing
* ``rfbench.run_suite(name or suite, ...)``: a standard sweep writing results.csv / results.md / plots

Time convention: t = 1 is the noise (prior) end, t = 0 the data end (README, "Time convention").
"""

from __future__ import annotations

from . import models, training, samplers  # training registers the trained catalogue
from ._version import __version__
from .errors import RFBenchError
from .samplers import SampleResult, reference_solution, sample


def run_suite(suite, **kwargs):
    """Run a suite, given by name or as a :class:`~rfbench.runner.suite.Suite` (see
    :func:`rfbench.runner.run_suite`). Imports :mod:`rfbench.suites` first, which registers the built-in
    suites in the runner's suite registry."""
    from . import suites  # noqa: F401  (registers)
    from .runner import run_suite as _run

    return _run(suite, **kwargs)


__all__ = ["RFBenchError", "SampleResult", "__version__", "models", "reference_solution", "run_suite",
           "sample", "samplers", "training"]
