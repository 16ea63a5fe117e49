"""FID's sample-size bias in ``rfbench compare``.

FID_N is biased upward by about k / N (docs/uncertainty.md, "The 1/N bias of FD_N"), so a FID from
10,000 samples is not comparable with a published FID from 50,000. When the run measured FID_inf
(``--set fd_inf=1``: the line FD_N = FID_inf + k / N fitted over subsample sizes, Chong & Forsyth
2020), the comparison uses that line at the published sample count, FID_inf + k / N_published,
and says so in a ``fid-extrapolated`` flag; the FID at the measured count and FID_inf stay in the
row. Only the generated side's bias is modelled: the published number's own reference statistics
(and their bias) are what they are.
"""

from __future__ import annotations

import math

import pandas as pd

EXTRAPOLATION_COLUMNS = ("value_inf", "value_inf_lo", "value_inf_hi", "inf_slope")


def _mean(g: pd.DataFrame, col: str) -> float:
    if col not in g:
        return math.nan
    v = pd.to_numeric(g[col], errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan


def extrapolation_columns(g: pd.DataFrame, col: str) -> dict:
    """FD_inf columns of a metric (mean over seeds), NaN where the run has none."""
    return {"value_inf": _mean(g, f"{col}_inf"), "value_inf_lo": _mean(g, f"{col}_inf_lo"),
            "value_inf_hi": _mean(g, f"{col}_inf_hi"), "inf_slope": _mean(g, f"{col}_inf_slope")}


def use_extrapolation(m, p, measured: float, flags: list) -> float:
    """The measured value to set next to the published one: FID_inf + slope / N_published when the
    sample counts differ and the row carries FID_inf, else ``measured`` unchanged."""
    inf, slope = m.get("value_inf", math.nan), m.get("inf_slope", math.nan)
    n_pub = str(p.get("n_samples", ""))
    if p.get("metric") != "fid" or not n_pub.isdigit() or n_pub == str(m.get("n_samples")):
        return measured
    if not (isinstance(inf, float) and math.isfinite(inf) and math.isfinite(slope)):
        return measured
    at_pub = inf + slope / int(n_pub)
    lo, hi = m.get("value_inf_lo", math.nan), m.get("value_inf_hi", math.nan)
    ci = f", FID_inf 95% interval [{lo:.4g}, {hi:.4g}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    flags.append(("fid-extrapolated", f"measured value is FID extrapolated to the published {n_pub} samples, "
                                      f"FID_inf + k / N = {inf:.4g} + {slope:.4g} / {n_pub} = {at_pub:.4g} (line fitted "
                                      f"over subsamples of the {m.get('n_samples') or '?'} measured; FID there "
                                      f"{measured:.4g}{ci}); only the generated side's 1/N bias is modelled"))
    return at_pub


__all__ = ["EXTRAPOLATION_COLUMNS", "extrapolation_columns", "use_extrapolation"]
