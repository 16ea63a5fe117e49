"""The convergence table explains an inconclusive fit: how the local slopes move and what to run."""

import pandas as pd

from rfbench.reporting.convergence import convergence_table


def _table(errors):
    nfes = [2 ** k for k in range(1, len(errors) + 1)]
    return convergence_table(pd.DataFrame({"model": "analytic-gmm-rf", "data": None, "sampler": "heun",
                                           "grid": "uniform", "status": "ok", "nfe": nfes, "nfe_measured": nfes,
                                           "ref_rmse": errors, "dtype": "float32"})).iloc[0]


def test_oscillating_and_drifting_slopes_are_named():
    osc = _table([1e-1, 2.5e-2, 1e-3, 5e-4, 2.5e-5])  # local slopes 2.0, 4.6, 1.0, 4.3
    assert osc["verdict"] == "inconclusive"
    assert "oscillate" in osc["note"] and "--nfe up to 128" in osc["note"]
    errs = [1e-1]
    for p in (3.0, 2.5, 2.0, 1.5):  # local slopes drifting down by 0.5 a step
        errs.append(errs[-1] / 2 ** p)
    drift = _table(errs)
    assert drift["verdict"] == "inconclusive" and "still drift (2.50, 2.00, 1.50)" in drift["note"]
    settled = _table([1e-1 / 4 ** k for k in range(6)])  # order 2 throughout, NFE 2..64
    assert settled["verdict"] == "meets" and settled["note"] == ""
