"""Error bars and FD_inf for the Fréchet-distance image metrics, called by the ``fid`` and
``fd_digits`` hooks of :mod:`rfbench.runner.cell_metrics.images`.

* FID: the Inception features of the ``fid_n`` samples are also summarised per block of consecutive
  samples (``fid_blocks`` blocks, :class:`~rfbench.metrics.frechet_bootstrap.BlockAccumulator`, fed
  with the same batches); the bootstrap resamples blocks (``fid_B`` replicates, one d x d
  eigendecomposition each, on the suite's device) and FD_inf fits FD_N = FD_inf + k / N over 15
  subsample sizes (Chong & Forsyth 2020; docs/uncertainty.md, "FD_inf").
* fd_digits: FD_inf needs N well above the feature dimension (128), far above the cell's 128
  samples, so ``fd_inf_n`` further samples are drawn from fresh seeded noise (as FID's are).

Options (suite ``options``, ``rfbench run --set key=value``): :data:`FD_INF_DEFAULTS`.
"""

from __future__ import annotations

import math

from ...errors import InvalidInputError
from ...metrics.frechet_bootstrap import BlockAccumulator, FrechetBootstrap, block_stats, fd_inf
from ...metrics.uncertainty import BootstrapPlan
from ..hooks import add_note
from ..intervals import settings_of, stash

FD_INF_DEFAULTS = {
    "fid_B": 100,        # bootstrap replicates of FID (0: no interval); one 2048 x 2048 eigh each
    "fid_blocks": 50,    # the fid_n samples are resampled in this many blocks
    "fd_inf": False,     # FID_inf (fid) / fd_digits_inf: FD extrapolated to infinitely many samples
    "fd_inf_n": 2560,    # fd_digits_inf: samples drawn for it (20 x the feature dimension)
    "fd_inf_B": 100,     # bootstrap fits behind the FD_inf interval (0: the estimate only)
}


def _opt(ctx, key: str):
    return ctx.suite.options.get(key, FD_INF_DEFAULTS[key])


class BlockFeatures:
    """Wraps a feature extractor: every batch's features also go, in sample order, into blocks of
    ``block_size`` consecutive samples."""

    def __init__(self, extractor, block_size: int):
        self.extractor = extractor
        self.acc = BlockAccumulator(block_size)

    def __call__(self, batch):
        feats = self.extractor(batch)
        self.acc.update(feats)
        return feats

    def blocks(self):
        return self.acc.blocks()


def fid_blocks(ctx, extractor, n: int) -> BlockFeatures | None:
    """The extractor wrapped for block statistics, or None when neither an FID interval nor FD_inf is asked."""
    want_interval = settings_of(ctx).enabled and int(_opt(ctx, "fid_B")) > 0
    if not (want_interval or _opt(ctx, "fd_inf")):
        return None
    k = int(_opt(ctx, "fid_blocks"))
    if k < 2:
        raise InvalidInputError(f"fid_blocks must be an integer >= 2, got {k}")
    return BlockFeatures(extractor, max(1, math.ceil(n / k)))


def fid_uncertainty(ctx, cell, row: dict, blocks: BlockFeatures, ref_stats, metric: str) -> None:
    """Hand the FID bootstrap to the cell's interval step and add FD_inf columns when asked."""
    boot = FrechetBootstrap(blocks.blocks(), ref_stats, device=ctx.device)
    B = int(_opt(ctx, "fid_B"))
    if settings_of(ctx).enabled and B > 0:
        stash(ctx, cell, metric, (boot, B))
    if _opt(ctx, "fd_inf"):
        add_fd_inf(ctx, cell, row, boot, metric)


def add_fd_inf(ctx, cell, row: dict, boot: FrechetBootstrap, metric: str) -> None:
    """``<metric>_inf`` (+ ``_lo``/``_hi``/``_ci`` with fd_inf_B > 0), ``_inf_slope``, ``_inf_sizes``,
    ``_inf_n``; a note instead when the sample count cannot support the fit."""
    B = int(_opt(ctx, "fd_inf_B"))
    s = settings_of(ctx)
    try:
        plan = BootstrapPlan(boot.K, B, int(cell.seed)) if s.enabled and B > 0 else None
        res = fd_inf(boot, plan=plan, seed=int(cell.seed), level=s.level)
    except InvalidInputError as exc:
        add_note(row, f"{metric}_inf not computed: {exc}")
        return
    row.update(res.columns(metric))
    row[f"{metric}_inf_n"] = boot.N
    if plan is None:
        add_note(row, f"{metric}_inf without an interval (fd_inf_B=0 or intervals off)")


def fd_digits_inf(ctx, cell, row: dict, clf, ref, noise_batches) -> None:
    """fd_digits_inf from ``fd_inf_n`` samples of the cell's sampler at its NFE, in 50 blocks; the noise
    is fresh, drawn per block as FID's: ``noise_batches(model, seed, n, batch)`` yields it."""
    import torch

    from ...samplers import get_sampler, sample

    n = int(_opt(ctx, "fd_inf_n"))
    if n < 4:
        raise InvalidInputError(f"fd_inf_n must be an integer >= 4, got {n}")
    model = ctx.model(cell.model)
    spec = get_sampler(cell.sampler)
    options = dict(ctx.suite.sampler_options.get(cell.sampler, {}))
    feats = []
    for noise in noise_batches(model, cell.seed, n, 1024):
        res = sample(model, spec, cell.nfe, noise=noise.to(ctx.device, ctx.dtype_for(cell.model)), **options)
        if res.nfe_expected is not None and res.nfe_measured != res.nfe_expected:
            raise AssertionError(f"fd_inf samples: sampler {spec.name!r} made {res.nfe_measured} evaluations, "
                                 f"planned {res.nfe_expected}")
        feats.append(clf.features(res.x))
    x = torch.cat(feats)
    bad = int((~torch.isfinite(x).all(1)).sum())
    if bad:
        add_note(row, f"fd_digits_inf not computed: non-finite features for {bad} of {n} samples")
        return
    boot = FrechetBootstrap(block_stats(x, max(1, math.ceil(n / 50))), ref)
    add_fd_inf(ctx, cell, row, boot, "fd_digits")


__all__ = ["BlockFeatures", "FD_INF_DEFAULTS", "add_fd_inf", "fd_digits_inf", "fid_blocks", "fid_uncertainty"]

