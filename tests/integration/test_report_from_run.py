"""rfbench report built from a small real run: convergence orders, tables and figures."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.reporting import convergence_table


@pytest.mark.slow
def test_report_from_a_small_real_run(tmp_path):
    """A real (tiny) sweep on the exact GMM model, then `rfbench report` on its folder."""
    import dataclasses

    from rfbench.runner import sweep, write_outputs
    from rfbench.suites import get_suite

    suite = dataclasses.replace(get_suite("toy2d").configure(models=["analytic-gmm-rf"], samplers=["euler", "heun"],
                                                             nfe=[4, 8, 16], n_samples=300),
                                metrics=("ref_rmse", "wall_clock_s"), timing_repeats=1)
    out = tmp_path / "toy"
    rows, summary = sweep(suite, out, progress=False)
    write_outputs(rows, out, suite.name, summary)
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    conv = convergence_table(pd.read_csv(out / "results.csv")).set_index("sampler")
    assert list(conv["theory"]) == [1, 2]
    for sampler, r in conv.iterrows():
        assert math.isfinite(r["measured"]) and r["nfe_range"] == "4-16"
        meets = abs(r["measured"] - r["theory"]) <= 0.25
        if "converge toward" in r["note"]:  # slopes moving onto the theory, the last within 0.25
            expected = "meets (see note)"
        elif "every local slope is above" in r["note"] or "every local slope is below" in r["note"]:
            expected = ("above" if "is above" in r["note"] else "below") + " (see note)"
        elif "slope not settled" in r["note"]:
            expected = "inconclusive"
        else:
            expected = ("meets" if meets else ("above" if r["measured"] > r["theory"] else "below")) + " (see note)"
        assert r["verdict"] == expected
        assert "pre-asymptotic: largest NFE 16 < 32" in r["note"]  # honest about a small-NFE fit
        assert f"| analytic-gmm-rf | {sampler} | uniform | {r['theory']} | {r['measured']:.2f} | 4-16 |" in md
    assert (out / "report.html").is_file() and (out / "report" / "ref_rmse_vs_nfe.png").is_file()
    assert (out / "report" / "pareto_ref_rmse.png").is_file()
