"""rfbench report: convergence orders from a synthetic results.csv with known slopes, and the report
built from it (files exist, tables and images referenced, HTML self-contained). The report of a small
real run is in tests/integration/test_report_from_run.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.reporting import build_report, convergence_table
from rfbench.reporting.figures import pareto_front


def _rows(model, sampler, nfes, err, dtype="float64", grid="uniform", seeds=(0,)):
    return [dict(suite="synthetic", model=model, data="", sampler=sampler, grid=grid, nfe=n, nfe_measured=n,
                 status="ok", seed=s, dtype=dtype, ref_rmse=err(n), wall_clock_s=1e-3 * n, n_samples=100)
            for n in nfes for s in seeds]


@pytest.fixture
def synthetic(tmp_path):
    rows = (
        _rows("analytic-gmm-rf", "euler", [2, 4, 8, 16, 32], lambda n: 0.5 / n, seeds=(0, 1))   # order 1 exactly
        + _rows("analytic-gmm-rf", "heun", [2, 4, 8, 16, 32], lambda n: 0.3 / n ** 2)          # order 2 exactly
        # pre-asymptotic: slope 1.2 for a second-order sampler, only up to NFE 8
        + _rows("analytic-gmm-vp", "heun", [2, 4, 8], lambda n: 0.1 * n ** -1.2)
        # float32 round-off floor: a second-order error stops falling at 1.5e-6
        + _rows("analytic-gmm-vp", "euler", [4, 8, 16, 32], lambda n: max(1e-3 / n ** 2, 1.5e-6), dtype="float32")
        # trained model: not an analytic model, no convergence row
        + _rows("1-rf", "euler", [2, 4, 8, 16], lambda n: 0.4 / n)
    )
    rows.append(dict(suite="synthetic", model="analytic-gmm-rf", data="", sampler="dopri5", grid="uniform", nfe=None,
                     nfe_measured=140, status="ok", seed=0, dtype="float64", ref_rmse=1e-8, wall_clock_s=0.1,
                     n_samples=100))
    rows.append(dict(suite="synthetic", model="analytic-gmm-rf", data="", sampler="heun", grid="uniform", nfe=64,
                     nfe_measured=None, status="failed", reason="boom", seed=0, dtype="float64", n_samples=100))
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    return run


def test_convergence_orders_from_known_slopes(synthetic):
    conv = convergence_table(pd.read_csv(synthetic / "results.csv")).set_index(["model", "sampler"])
    assert set(conv.index) == {("analytic-gmm-rf", "euler"), ("analytic-gmm-rf", "heun"),
                               ("analytic-gmm-vp", "heun"), ("analytic-gmm-vp", "euler")}
    e, h = conv.loc[("analytic-gmm-rf", "euler")], conv.loc[("analytic-gmm-rf", "heun")]
    assert e["measured"] == pytest.approx(1.0, abs=1e-9) and e["theory"] == 1
    assert h["measured"] == pytest.approx(2.0, abs=1e-9) and h["theory"] == 2
    assert (e["verdict"], e["note"], e["nfe_range"]) == ("meets", "", "8-32")
    assert h["local_slopes"] == "2.00, 2.00"

    pre = conv.loc[("analytic-gmm-vp", "heun")]
    assert pre["measured"] == pytest.approx(1.2, abs=1e-9)
    assert pre["verdict"] == "below (see note)"
    assert "pre-asymptotic: largest NFE 8 < 32" in pre["note"]

    floor = conv.loc[("analytic-gmm-vp", "euler")]  # local slopes 2, 2, 1.38: floored at NFE 32
    assert "round-off floor" in floor["note"]
    assert "slope not settled" in floor["note"] and floor["verdict"] == "inconclusive"


def test_pareto_front():
    # (time, value): (1, 5) (2, 3) (3, 4) (4, 1) (2, 6) -> front (1,5) (2,3) (4,1)
    assert pareto_front([1, 2, 3, 4, 2], [5, 3, 4, 1, 6]) == [0, 1, 3]


def test_report_from_synthetic_results(synthetic):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    (synthetic / "samples").mkdir()
    plt.imsave(synthetic / "samples" / "analytic-gmm-rf-euler-nfe8.png", np.random.default_rng(0).random((64, 64)))
    res = build_report(synthetic)
    md = res["md"].read_text()
    for section in ("## Environment", "## Protocol", "## Convergence order (analytic models)", "## Results",
                    "## Figures", "## Comparison with published numbers", "Failed and not-applicable cells"):
        assert section in md, section
    # the convergence table lists measured next to claimed orders
    assert re.search(r"\| analytic-gmm-rf \| heun \| uniform \| 2 \| 2\.00 \| 8-32 \|", md)
    # every referenced image exists
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert "report/ref_rmse_vs_nfe.png" in images and "report/pareto_ref_rmse.png" in images
    assert "samples/analytic-gmm-rf-euler-nfe8.png" in images  # sample grids of artifact hooks
    for rel in images:
        assert (synthetic / rel).is_file() and (synthetic / rel).stat().st_size > 1000
    html = res["html"].read_text()
    assert html.count("data:image/png;base64,") == len(images)
    assert "http://" not in html and "https://" not in html  # self-contained, nothing fetched
    assert (synthetic / "comparison.csv").is_file()


def test_report_overlays_published_points(tmp_path):
    """On the compare fixture (invented CIFAR-10 FIDs) the FID figure carries the published values of
    the same model, conditioning and dataset: 2-RF-distill 1, EDM unconditional 2 (PFGM++'s and
    EDM's own), 1-RF 8 (RF: RK45 and one-step Euler; BOSS: Euler and BOSS at 4, 6, 8), and my-rf
    the same 8 once mapped onto 1-RF."""
    run = tmp_path / "fixture"
    run.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "compare" / "results.csv", run / "results.csv")
    res = build_report(run, model_map={"my-rf": ("rectified-flow", "1-rf")})
    md = res["md"].read_text()
    assert "19 published value(s) overlaid as stars" in md
    assert "### Matched" in md and "| 5 | my-rf | cifar10 | euler | 4 / 4 | fid | 51.95 | 60 | +8.05 |" in md


def test_report_cli_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "results.csv" in err and "does not exist" in err and err.count("\n") == 1
