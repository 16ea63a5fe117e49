"""The digits suite's smoke run: tables and PNG sample grids (trains the digits 1-RF on first use)."""

import pandas as pd
from PIL import Image

from rfbench import run_suite


def test_digits_smoke_run_writes_tables_and_png_grids(tmp_path):
    res = run_suite("digits", smoke=True, out=tmp_path, progress=False)
    df = pd.read_csv(tmp_path / "results.csv")
    assert res["summary"]["failed"] == 0 and (df["status"] == "ok").all()
    assert df["ref_rmse"].notna().all() and df["straightness"].notna().all()
    grids = sorted(p.name for p in (tmp_path / "samples" / "1-rf@digits").glob("*.png"))
    assert grids == ["data.png", "dopri5-adaptive-seed0.png", "euler-nfe4-seed0.png", "heun-nfe4-seed0.png",
                     "reference-seed0.png"]
    img = Image.open(tmp_path / "samples" / "1-rf@digits" / "euler-nfe4-seed0.png")
    assert img.size == (4 * (4 * 9 + 1), 4 * (4 * 9 + 1))  # 16 samples: 4 x 4 grid of 8x8 digits, x4
    assert set(df.loc[df["nfe"] == 4, "sample_grid"]) == {"samples/1-rf@digits/euler-nfe4-seed0.png",
                                                          "samples/1-rf@digits/heun-nfe4-seed0.png"}
