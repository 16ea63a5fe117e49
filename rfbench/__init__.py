"""rfbench: a benchmark and evaluation suite for flow-based generative samplers.

Public surface:

* ``rfbench.sample(model, sampler, nfe=..., noise=... | n=...)`` -> :class:`SampleResult`
* ``rfbench.models``: ``get_model``, ``from_velocity``, the model registry
* ``rfbench.training``: recipes and training of the trained catalogue (``make_recipe``, ``load_trained``)
* ``rfbench.samplers``: the sampler registry, time grids, ``reference_solution``
* ``rfbench.metrics``: ref_rmse, straightness, w2 / sliced W2, timing
* ``rfbench.run_suite(name or suite, ...)``: a standard sweep writing results.csv / results.md / plots
* ``rfbench.define_suite(name, models=..., samplers=..., nfe=...)``: a suite of your own (pytest suite files)
* ``rfbench.plugins``: your model / sampler as ``module.path:attr`` or an entry point (docs/own-model.md)
* ``rfbench.data``, ``rfbench.suites``, ``rfbench.runner``, ``rfbench.reporting``, ``rfbench.progress``,
  ``rfbench.errors``: importable as attributes (loaded on first use)

Time convention: t = 1 is the noise (prior) end, t = 0 the data end (README, "Time convention").
"""

from __future__ import annotations

from . import models, training, samplers  # training registers the trained catalogue
from . import plugins  # module:attr references and entry points in name lookups
from ._version import __version__
from .errors import RFBenchError
from .plugins import define_suite
from .samplers import SampleResult, reference_solution, sample

# the other documented modules, imported on first use (rfbench.metrics.w2, rfbench.reporting.build_report):
# reporting and the runner load pandas and matplotlib, which `import rfbench` should not pay for
_LAZY_MODULES = ("cache", "data", "errors", "identity", "metrics", "progress", "reporting", "runner", "suites")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rfbench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES))


def run_suite(suite, **kwargs):
    """Run a suite, given by name or as a :class:`~rfbench.runner.suite.Suite` (see
    :func:`rfbench.runner.run_suite`). Imports :mod:`rfbench.suites` first, which registers the built-in
    suites in the runner's suite registry."""
    from . import suites  # noqa: F401  (registers)
    from .runner import run_suite as _run

    return _run(suite, **kwargs)


__all__ = ["RFBenchError", "SampleResult", "__version__", "define_suite", "models", "plugins", "reference_solution",
           "run_suite", "sample", "samplers", "training"]
