"""RF-Solver's inversion_rmse cell metric in a toy2d suite run."""

import pandas as pd

from rfbench.runner import run_suite


def test_inversion_rmse_cell_metric(tmp_path):
    res = run_suite("toy2d", out=tmp_path, models=["analytic-gmm-rf"],
                    samplers=["rf-solver", "euler", "dpm-solver++-2m"], nfe=[8, 32], n_samples=256, progress=False)
    df = pd.read_csv(tmp_path / "results.csv").set_index(["model", "sampler", "nfe"])
    rf = df.loc["analytic-gmm-rf"]
    for s in ("rf-solver", "euler"):
        assert rf.loc[(s, 32), "inversion_rmse"] < rf.loc[(s, 8), "inversion_rmse"]
        assert rf.loc[(s, 32), "reconstruction_rmse"] < rf.loc[(s, 8), "reconstruction_rmse"]
    assert rf.loc[("rf-solver", 32), "inversion_rmse"] < rf.loc[("euler", 32), "inversion_rmse"] / 10
    assert pd.isna(rf.loc[("dpm-solver++-2m", 8), "inversion_rmse"])
    assert "inversion_rmse: only for" in rf.loc[("dpm-solver++-2m", 8), "notes"]
    assert "inversion_rmse" in (tmp_path / "results.md").read_text()
    assert res["summary"]["failed"] == 0
