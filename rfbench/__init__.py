"""rfbench: a benchmark and evaluation suite for flow-based generative samplers.

Public surface:

* ``rfbench.sample(model, sampler, nfe=..., noise=... | n=...)`` -> :class:`SampleResult`
* ``rfbench.models``: ``get_model``, ``from_velocity``, the model registry
* ``rfbench.samplers``: the sampler registry, time grids, ``reference_solution``
* ``rfbench.metrics``: ref_rmse, straightness, w2 / sliced W2, timing
* ``rfbench.run_suite(name, ...)``: a standard sweep writing results.csv / results.md / plots
* ``rfbench.define_suite(name, models=..., samplers=..., nfe=...)``: a suite of your own (pytest suite files)
* ``rfbench.plugins``: your model / sampler as ``module.path:attr`` or an entry point (docs/own-model.md)
* ``rfbench.data``, ``rfbench.suites``, ``rfbench.runner``, ``rfbench.reporting``, ``rfbench.progress``,
  ``rfbench.errors``: importable as attributes (loaded on first use)

Time convention: t = 1 is the noise (prior) end, t = 0 the data end (README, "Time convention").
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("rfbench")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from . import models, samplers  # noqa: E402
from . import plugins  # noqa: E402  (module:attr references and entry points in name lookups)
from .plugins import define_suite  # noqa: E402
from .errors import RFBenchError  # noqa: E402
from .samplers import SampleResult, reference_solution, sample  # noqa: E402


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


def run_suite(name: str, **kwargs):
    """Run a registered suite (see :func:`rfbench.runner.run_suite`)."""
    from .runner import run_suite as _run

    return _run(name, **kwargs)


__all__ = ["RFBenchError", "SampleResult", "__version__", "define_suite", "models", "plugins", "reference_solution",
           "run_suite", "sample", "samplers"]
