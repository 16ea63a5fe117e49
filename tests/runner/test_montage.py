"""The run's sample montage (rfbench.runner.artifacts): the sample_grid hook's per-cell tiles drawn as
one image per model, sampler x NFE, next to the reference solution and held-out data tiles."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
from PIL import Image

from rfbench.runner.artifacts import TILE_SIZE, sample_grid, write_montages
from rfbench.runner.suite import Cell, ModelSpec


class _Ctx:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.suite = SimpleNamespace(nfe=[2, 4, 8])
        self.memo = {}

    def reference(self, model, seed):
        return {"x_end": torch.zeros(64, 1, 8, 8)}

    def model(self, spec):
        return SimpleNamespace(sample_data=lambda n, generator=None: torch.ones(n, 1, 8, 8))


def test_tiles_at_every_nfe_and_one_montage_per_model(tmp_path):
    ctx = _Ctx(tmp_path)
    spec = ModelSpec("1-rf", "digits")
    rows = []
    for sampler in ("heun", "euler"):
        for nfe in (2, 4, 8):
            cell = Cell("digits", spec, sampler, nfe, 0)
            x = torch.linspace(-1, 1, 64 * 64).reshape(64, 1, 8, 8)
            row = {"model": "1-rf", "data": "digits", "sampler": sampler, "nfe": nfe, "seed": 0}
            sample_grid(ctx, cell, SimpleNamespace(x=x), row)
            rows.append(row)
    df = pd.DataFrame(rows)
    assert df["sample_tile"].notna().all()
    assert set(df.loc[df["nfe"] == 4, "sample_grid"]) == {"samples/1-rf@digits/heun-nfe4-seed0.png",
                                                          "samples/1-rf@digits/euler-nfe4-seed0.png"}
    tile = Image.open(tmp_path / df["sample_tile"].iloc[0])
    assert tile.size == (4 * (4 * 9 + 1), 4 * (4 * 9 + 1))  # TILE_SIZE = 16 digits, 4 x 4, upscaled x4
    assert TILE_SIZE == 16
    assert (tmp_path / "samples" / "1-rf@digits" / "tiles" / "reference-seed0.png").is_file()
    written = write_montages(df, tmp_path)
    assert written == [tmp_path / "samples" / "montage-1-rf@digits.png"]
    img = np.asarray(Image.open(written[0]).convert("L"))
    assert img.shape[0] > 3 * tile.size[1] // 2 and img.shape[1] > 3 * tile.size[0] // 2
    assert write_montages(df.drop(columns="sample_tile"), tmp_path) == []
