"""Running suites: :func:`run_suite` (used by the CLI) and the pieces the pytest plugin reuses."""

from __future__ import annotations

from pathlib import Path

from . import artifacts  # noqa: F401  (registers the built-in artifact hooks)
from . import inversion  # noqa: F401  (registers the inversion_rmse cell metric)
from .output import write_outputs
from .suite import Cell, ModelSpec, Suite
from .sweep import SweepContext, execute_cell, run_cell, sweep


def default_out_dir(suite_name: str) -> Path:
    return Path("rfbench-out") / suite_name


def run_suite(name: str, *, quick: bool = False, smoke: bool = False, device: str | None = None,
              out: str | Path | None = None, nfe: list[int] | None = None, models: list[str] | None = None,
              samplers: list[str] | None = None, seeds: list[int] | None = None, n_samples: int | None = None,
              force: bool = False, progress: bool = True, options: dict | None = None, intervals=None) -> dict:
    """Run the registered suite ``name`` and write results.csv, results.md and plots to ``out``.

    Finished cells are kept as records under ``out/cells``; a rerun with the same settings and
    code reuses them (``force=True`` recomputes). Returns the output paths, the frame and counts.
    ``device`` None means the suite's default device; ``options`` override the suite's options.
    Raises SuiteSkipped (one-line reason) when the suite cannot run here. ``intervals``: an
    :class:`~rfbench.runner.intervals.IntervalSettings` (None: the defaults; error bars on).
    """
    from .intervals import DEFAULT_SETTINGS
    from ..suites import get_suite

    suite = get_suite(name).configure(quick=quick, smoke=smoke, nfe=nfe, models=models, samplers=samplers, seeds=seeds,
                                      n_samples=n_samples, options=options)
    device = device or suite.default_device
    suite = suite.prepared(device)
    out_dir = Path(out) if out is not None else default_out_dir(name)
    rows, summary = sweep(suite, out_dir, device=device, force=force, progress=progress,
                          intervals=intervals or DEFAULT_SETTINGS)
    result = write_outputs(rows, out_dir, suite.name, summary, metrics=suite.metrics)
    result["summary"] = summary
    return result


__all__ = ["Cell", "ModelSpec", "Suite", "SweepContext", "execute_cell", "run_cell", "run_suite", "sweep",
           "write_outputs"]
