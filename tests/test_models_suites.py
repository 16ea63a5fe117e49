"""The suites that carry the catalogue: digits (smoke run with PNG grids) and toy2d's model list."""

import pandas as pd
from PIL import Image

from rfbench.runner import run_suite
from rfbench.samplers import SAMPLERS
from rfbench.suites import catalogue_samplers, get_suite


def test_suites_cover_the_catalogue_and_every_registered_sampler():
    toy, dig = get_suite("toy2d"), get_suite("digits")
    names = {m.name for m in toy.models}
    for model in ("1-rf", "2-rf", "2-rf++", "vp-diffusion", "rectified-diffusion", "pfgmpp-d8", "pfgmpp-d2048"):
        assert model in names and model in {m.name for m in dig.models}
    assert "edm" in names  # EDM (PFGM++'s D -> inf) is compared with pfgmpp-d2048 on 2-D
    assert all(m.data == "digits" for m in dig.models)
    assert dig.nfe == [1, 2, 3, 4, 6, 8, 12, 16]
    # every sampler defined by rfbench's modules, none registered elsewhere (e.g. by tests)
    own = [n for n in SAMPLERS if SAMPLERS.get(n).fn.__module__.startswith("rfbench.")]
    # ... plus the chosen library adapter entries (docs/adapters.md), where the library is installed
    from rfbench.samplers.adapters import SUITE_ENTRIES, installed

    assert own == catalogue_samplers()
    assert toy.samplers == dig.samplers == own + installed(SUITE_ENTRIES)
    assert {"euler", "heun", "ddim", "edm-heun", "dopri5"} <= set(own)


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
