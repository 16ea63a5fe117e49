"""Running suites: :func:`run_suite` (used by the CLI) and the pieces the pytest plugin reuses."""

from __future__ import annotations

from pathlib import Path

from . import artifacts  # noqa: F401  (registers the built-in artifact hooks)
from . import cell_metrics  # noqa: F401  (registers the per-cell metrics)
from .output import write_outputs
from .suite import SUITES, Cell, ModelSpec, Suite, get_suite, register_suite
from .sweep import SweepContext, execute_cell, run_cell, sweep


def default_out_dir(suite_name: str) -> Path:
    return Path("rfbench-out") / suite_name


def run_suite(suite: Suite | str, *, quick: bool = False, smoke: bool = False, device: str | None = None,
              out: str | Path | None = None, nfe: list[int] | None = None, models: list[str] | None = None,
              samplers: list[str] | None = None, seeds: list[int] | None = None, n_samples: int | None = None,
              force: bool = False, progress: bool = True, options: dict | None = None,
              shard: tuple[int, int] | None = None, claim_timeout: float | None = None, wait: bool = True,
              intervals=None) -> dict:
    """Run ``suite`` (a :class:`Suite` or a registered suite's name) and write results.csv, results.md
    and plots to ``out``.

    Finished cells are kept as records under ``out/cells``; a rerun with the same settings and
    code reuses them (``force=True`` recomputes). Returns the output paths, the frame and counts.
    ``device`` None means the suite's default device; ``options`` override the suite's options.
    Raises SuiteSkipped (one-line reason) when the suite cannot run here. Several processes may run
    the same suite into the same ``out`` (``shard``: a fixed partition; see rfbench.runner.workers).
    ``intervals``: an :class:`~rfbench.runner.intervals.IntervalSettings` (None: the defaults; error
    bars on).
    """
    from .intervals import DEFAULT_SETTINGS

    if isinstance(suite, str):  # rfbench.run_suite and the CLI import rfbench.suites, which registers them
        suite = get_suite(suite)
    name = suite.name
    suite = suite.configure(quick=quick, smoke=smoke, nfe=nfe, models=models, samplers=samplers, seeds=seeds,
                            n_samples=n_samples, options=options)
    device = device or suite.default_device
    suite = suite.prepared(device)
    out_dir = Path(out) if out is not None else default_out_dir(name)
    rows, summary = sweep(suite, out_dir, device=device, force=force, progress=progress, shard=shard,
                          claim_timeout=claim_timeout, wait=wait, intervals=intervals or DEFAULT_SETTINGS)
    # only a worker that sees every cell recorded writes the table (rfbench.runner.workers)
    result = write_outputs(rows, out_dir, suite.name, summary, metrics=suite.metrics, facts=suite.facts()) \
        if summary.get("write", True) else {"csv": None, "md": None, "plots": [], "frame": None}
    result["summary"] = summary
    return result


__all__ = ["SUITES", "Cell", "ModelSpec", "Suite", "SweepContext", "execute_cell", "get_suite", "register_suite",
           "run_cell", "run_suite", "sweep", "write_outputs"]
