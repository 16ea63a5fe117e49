"""The one number formatter of rfbench's tables (results.md, the report, comparisons)."""

from __future__ import annotations

import math


def fmt(value, metric: str | None = None, *, digits: int | None = None) -> str:
    """``value`` as table text: missing (None, NaN, pandas NA) -> "—"; a float with ``digits``
    significant digits (default: the metric's, from the metric registry, else 4); anything else as is."""
    if value is None or value.__class__.__name__ == "NAType" or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        if digits is None:
            from ..metrics.registry import metric_digits

            digits = metric_digits(metric)
        return f"{value:.{digits}g}"
    return str(value)


__all__ = ["fmt"]
