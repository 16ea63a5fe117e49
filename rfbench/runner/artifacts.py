"""Built-in artifact hooks: PNG grids of image samples.

``sample_grid`` (for suites whose samples are images): per model, one grid per sampler at the suite's
grid NFE (4 where the suite has it, else its middle NFE; adaptive samplers always), plus the reference
solution's grid and a grid of held-out data, all from the first 64 samples, under
``out_dir/samples/<model>/``. The row gets a ``sample_grid`` column with the file's path relative to
``out_dir``. Every cell (each NFE) also writes a small tile of its first TILE_SIZE samples under
``samples/<model>/tiles/`` (column ``sample_tile``), from which the run's outputs draw one montage
per model, labelled sampler x NFE (:func:`rfbench.reporting.figures.sample_montage`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..cache import atomic_write_bytes
from .hooks import register_artifact

GRID_SIZE = 64  # images per grid
TILE_SIZE = 16  # images per montage tile (4 x 4): the same noise in every tile of a model and seed
MIN_SIDE = 32  # small images are upscaled (nearest neighbour) to at least this many pixels a side: 8x8 digits x4


def image_grid(x: torch.Tensor, *, ncol: int | None = None, pad: int = 1, scale: int | None = None) -> np.ndarray:
    """(n, C, H, W) images in [-1, 1] -> an (rows*(H+pad)+pad, ...) uint8 grid (H x W x 3, or H x W for C = 1)."""
    x = x.detach().to("cpu", torch.float32).clamp(-1, 1)
    n, c, h, w = x.shape
    scale = scale or max(1, MIN_SIDE // min(h, w))
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    img = np.full((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), 1.0, dtype=np.float32)  # white border
    arr = ((x + 1) / 2).numpy()
    for i in range(n):
        r, k = divmod(i, ncol)
        img[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = arr[i]
    img = np.repeat(np.repeat(img, scale, axis=1), scale, axis=2)
    out = (img * 255 + 0.5).astype(np.uint8)
    return out[0] if c == 1 else out[:3].transpose(1, 2, 0)


def save_png(path: Path, grid: np.ndarray) -> Path:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def grid_nfe(nfes: list[int]) -> int:
    return 4 if 4 in nfes else sorted(nfes)[len(nfes) // 2]


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.+@" else "_" for ch in label)


@register_artifact("sample_grid")
def sample_grid(ctx, cell, result, row) -> None:
    x = result.x
    if ctx.out_dir is None or x.ndim != 4:
        return
    nfe_ok = cell.nfe is None or cell.nfe == grid_nfe(ctx.suite.nfe)
    folder = ctx.out_dir / "samples" / _safe(cell.model.label)
    key = ("sample_grid", cell.model, cell.seed)
    if key not in ctx.memo:  # once per model and seed: the reference solution and held-out data
        ctx.memo[key] = True
        ref = ctx.reference(cell.model, cell.seed)["x_end"][:GRID_SIZE]
        save_png(folder / f"reference-seed{cell.seed}.png", image_grid(ref))
        save_png(folder / "tiles" / f"reference-seed{cell.seed}.png", image_grid(ref[:TILE_SIZE], ncol=4))
        data = ctx.model(cell.model).sample_data(GRID_SIZE, generator=torch.Generator().manual_seed(0))
        if data is not None:
            save_png(folder / "data.png", image_grid(data))
            save_png(folder / "tiles" / "data.png", image_grid(data[:TILE_SIZE], ncol=4))
    nfe = "adaptive" if cell.nfe is None else f"nfe{cell.nfe}"
    if nfe_ok:
        path = save_png(folder / f"{_safe(cell.sampler)}-{nfe}-seed{cell.seed}.png", image_grid(x[:GRID_SIZE]))
        row["sample_grid"] = str(path.relative_to(ctx.out_dir))
    tile = save_png(folder / "tiles" / f"{_safe(cell.sampler)}-{nfe}-seed{cell.seed}.png",
                    image_grid(x[:TILE_SIZE], ncol=4))
    row["sample_tile"] = str(tile.relative_to(ctx.out_dir))


def write_montages(df, out_dir: Path) -> list[Path]:
    """One montage per model (first seed) from the rows' ``sample_tile`` PNGs, labelled sampler x NFE,
    with the reference solution and held-out data tiles for comparison: ``samples/montage-<model>.png``."""
    import pandas as pd

    from ..reporting.figures import sample_montage

    if "sample_tile" not in df or not df["sample_tile"].notna().any():
        return []
    out_dir = Path(out_dir)
    written = []
    rows = df[df["sample_tile"].notna()]
    for (model, data), g in rows.groupby(["model", rows["data"].fillna("")], sort=False):
        seed = int(g["seed"].min())
        g = g[g["seed"] == seed]
        label = model + (f"@{data}" if data else "")
        tiles = {(str(r.sampler), "adaptive" if pd.isna(r.nfe) else str(int(r.nfe))):
                 out_dir / str(r.sample_tile) for r in g.itertuples()}
        folder = out_dir / "samples" / _safe(label) / "tiles"
        extra = {"reference (dopri5)": folder / f"reference-seed{seed}.png", "held-out data": folder / "data.png"}
        path = sample_montage(tiles, out_dir / "samples" / f"montage-{_safe(label)}.png", extra=extra,
                              title=f"{label}, seed {seed}: samples by sampler (rows) and NFE (columns), "
                                    "the same noise in every tile")
        if path is not None:
            written.append(path)
    return written
