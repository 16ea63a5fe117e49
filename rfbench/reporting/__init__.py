"""Published numbers, ``rfbench compare`` and ``rfbench report``.

* :func:`load_published` / :func:`validate_published`: results/published.csv (provenance + protocol)
* :func:`compare_files` / :func:`compare`: measured rows next to published ones, protocol flags
* :func:`build_report`: Markdown + self-contained HTML report of a suite's output, with its tables as LaTeX
  (:func:`rfbench.reporting.tables.latex_tables`; layout in docs/report.md)
* :func:`convergence_table`: measured vs claimed convergence order on analytic models

The mapping from rfbench names to the published tables' keys lives in :mod:`.names` only.
"""

from __future__ import annotations

from .compare import Comparison, compare, compare_files, load_results, measured_rows, protocol_flags
from .convergence import convergence_table
from .names import model_key, parse_model_map
from .published import default_published_path, load_published, validate_published
from .report import build_report

__all__ = [
    "Comparison", "build_report", "compare", "compare_files", "convergence_table", "default_published_path",
    "load_published", "load_results", "measured_rows", "model_key", "parse_model_map", "protocol_flags",
    "validate_published",
]
