"""Image metrics as per-cell sweep hooks: ``fid``, ``lpips``, ``psnr``, ``fd_digits`` (sample grids are the
``sample_grid`` artifact of :mod:`rfbench.runner.artifacts`); the metric functions they call (FID, LPIPS,
PSNR, Fréchet distance) are in :mod:`rfbench.metrics`.

A suite lists them in ``Suite.metrics`` / ``Suite.artifacts`` and configures them through
``Suite.options`` (``rfbench run --set key=value``); every option has a default here:

================  ==================================================================================
option            meaning
================  ==================================================================================
standin           True: stand-in (randomly initialised) Inception and AlexNet, never reported as
                  fid / lpips but as fd_unverified / lpips_unverified (tests, --smoke)
fid_weights       Inception weights file ("" -> $RFBENCH_INCEPTION_WEIGHTS -> torch hub cache)
fid_ref           reference set for FID: a registered name (cifar10-train, standin) or a .npz path
fid_ref_n         reference images used (0: all)
fid_n             generated samples per cell for FID (fresh noise, seeded per 500-sample block)
fid_batch         generation batch size for the FID samples
inception_batch   Inception batch size
prc, prc_n, prc_k precision/recall on/off, samples per side, neighbourhood k (torch-fidelity's)
lpips_weights     AlexNet trunk file ("" -> $RFBENCH_ALEXNET_WEIGHTS -> torchvision's hub cache)
lpips_n           samples compared with the reference for LPIPS (0: all of the cell's samples)
lpips_resize      LPIPS input size (bilinear); 0 keeps the native size
fid_B, fid_blocks bootstrap replicates of FID (0: no interval) over fid_blocks blocks of the fid_n samples
fd_inf            FID_inf / fd_digits_inf: FD at several subsample sizes extrapolated to N = inf
fd_inf_n, fd_inf_B  samples for fd_digits_inf (fresh noise), bootstrap fits for the FD_inf intervals
================  ==================================================================================

A metric that cannot be computed leaves its column empty and adds the reason to ``notes``.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ...errors import InvalidInputError, RFBenchError
from ..hooks import add_note, register_cell_metric
from ..intervals import stash
from .image_uncertainty import FD_INF_DEFAULTS, fd_digits_inf, fid_blocks, fid_uncertainty

DEFAULTS: dict[str, Any] = {
    "standin": False, "fid_weights": "", "fid_ref": "cifar10-train", "fid_ref_n": 0, "fid_n": 50_000,
    "fid_batch": 1000, "inception_batch": 200, "prc": True, "prc_n": 10_000, "prc_k": 3,
    "lpips_weights": "", "lpips_n": 0, "lpips_resize": 224,
    **FD_INF_DEFAULTS,  # fid_B, fid_blocks, fd_inf, fd_inf_n, fd_inf_B (cell_metrics/image_uncertainty.py)
}
NOISE_BLOCK = 500  # FID noise is drawn per block of this many samples, so it is independent of fid_batch


def opt(ctx, key: str) -> Any:
    return ctx.suite.options.get(key, DEFAULTS[key])


def _memo(ctx, key: str, build):
    """Build once per sweep; an RFBenchError is remembered too (its message becomes each row's note)."""
    if key not in ctx.memo:
        try:
            ctx.memo[key] = ("ok", build())
        except RFBenchError as exc:
            ctx.memo[key] = ("error", str(exc))
    return ctx.memo[key]


# -- PSNR -------------------------------------------------------------------------------------------
@register_cell_metric("psnr")
def psnr_metric(ctx, cell, result, row) -> None:
    from ...metrics.lpips_ref import psnr

    ref = ctx.reference(cell.model, cell.seed)["x_end"]
    row["psnr"] = psnr(result.x, ref)


# -- LPIPS to the reference ------------------------------------------------------------------------
def _lpips(ctx):
    from ...metrics.lpips_ref import LPIPSRef, resolve_alexnet_weights, standin_alexnet_weights

    def build():
        weights = standin_alexnet_weights() if opt(ctx, "standin") else resolve_alexnet_weights(opt(ctx, "lpips_weights") or None)
        return LPIPSRef(weights, resize=int(opt(ctx, "lpips_resize")) or None, device=ctx.device)
    return _memo(ctx, "lpips", build)


@register_cell_metric("lpips")
def lpips_metric(ctx, cell, result, row) -> None:
    status, lp = _lpips(ctx)
    if status == "error":
        add_note(row, f"lpips not computed: {lp}")
        return
    ref = ctx.reference(cell.model, cell.seed)["x_end"]
    n = int(opt(ctx, "lpips_n")) or len(result.x)
    x, r = result.x[:n], ref[:n]
    per_pair = lp(x, r)
    value = float(per_pair.mean())
    row.update(lpips_net="alex", lpips_weights_sha256=lp.trunk.sha256, lpips_lin_sha256=lp.lin_sha256,
               lpips_n=len(x), lpips_resize_rule=lp.resize_rule(tuple(x.shape)))
    stash(ctx, cell, "lpips" if lp.trunk.verified else "lpips_unverified", per_pair)
    if lp.trunk.verified:
        row["lpips"] = value
    else:
        row["lpips_unverified"] = value
        add_note(row, f"lpips not reported: trunk is {lp.trunk.label}, not torchvision's AlexNet "
                      "(value in lpips_unverified)")


# -- FID (+ precision/recall) ------------------------------------------------------------------------
def _inception(ctx):
    from ...metrics.fid import InceptionFeatures, resolve_inception_weights, standin_inception_weights

    def build():
        weights = standin_inception_weights() if opt(ctx, "standin") else resolve_inception_weights(opt(ctx, "fid_weights") or None)
        return InceptionFeatures(weights, device=ctx.device, batch_size=int(opt(ctx, "inception_batch")))
    return _memo(ctx, "inception", build)


def _fid_reference(ctx, extractor):
    from ...metrics.fid import reference_stats

    def build():
        n = int(opt(ctx, "fid_ref_n")) or None
        prc_n = int(opt(ctx, "prc_n")) if opt(ctx, "prc") else 0
        return reference_stats(str(opt(ctx, "fid_ref")), extractor, n, ctx.suite.options, prc_n=prc_n,
                               progress=ctx.progress)
    return _memo(ctx, "fid_reference", build)


def fid_noise_seed(seed: int, block: int) -> int:
    """Seed of FID noise block ``block`` for cell seed ``seed`` (disjoint from the small seeds of the
    suite's main noise)."""
    return 1_000_000_007 + 1_000_003 * int(seed) + int(block)


def fid_noise(model, seed: int, n: int, batch: int):
    """Yield float64 CPU noise batches (batch, *data_shape) totalling n; sample i always gets the
    same noise, whatever ``batch`` is."""
    buf: list[torch.Tensor] = []
    have, block, left = 0, 0, n
    while left > 0:
        while have < min(batch, left):
            gen = torch.Generator().manual_seed(fid_noise_seed(seed, block))
            buf.append(model.prior.sample(NOISE_BLOCK, model.data_shape, gen))
            have += NOISE_BLOCK
            block += 1
        flat = torch.cat(buf)
        take = min(batch, left)
        yield flat[:take]
        buf, have, left = [flat[take:]], have - take, left - take


def fid_images(ctx, cell, n: int, batch: int):
    """Yield uint8 image batches generated by the cell's sampler at the cell's NFE from fresh noise."""
    from ...metrics.fid import to_uint8
    from ...samplers import get_sampler, sample

    model = ctx.model(cell.model)
    spec = get_sampler(cell.sampler)
    options = dict(ctx.suite.sampler_options.get(cell.sampler, {}))
    for noise in fid_noise(model, cell.seed, n, batch):
        res = sample(model, spec, cell.nfe, noise=noise.to(ctx.device, ctx.dtype_for(cell.model)), **options)
        if res.nfe_expected is not None and res.nfe_measured != res.nfe_expected:
            raise AssertionError(f"FID samples: sampler {spec.name!r} made {res.nfe_measured} evaluations, "
                                 f"planned {res.nfe_expected}")
        yield to_uint8(res.x)


@register_cell_metric("fid")
def fid_metric(ctx, cell, result, row) -> None:
    from ...metrics.fid import fid_protocol, image_stats, precision_recall
    from ...metrics.frechet import frechet_distance

    status, ext = _inception(ctx)
    if status == "error":
        add_note(row, f"fid not computed: {ext}")
        return
    status, ref = _fid_reference(ctx, ext)
    if status == "error":
        add_note(row, f"fid not computed: {ref}")
        return
    ref_stats, ref_feats, ref_info = ref
    n, batch = int(opt(ctx, "fid_n")), int(opt(ctx, "fid_batch"))
    if n < 2:
        raise InvalidInputError(f"fid_n must be >= 2, got {n}")
    prc_n = int(opt(ctx, "prc_n")) if opt(ctx, "prc") else 0
    start = time.perf_counter()
    from ...parallel import active

    if active():  # under torchrun each rank draws its block of the FID samples
        from .fid_split import fid_stats

        if fid_blocks(ctx, ext, n) is not None:
            add_note(row, "fid interval and FID_inf not computed: the FID samples were split over torchrun ranks")
        blocks = None
        stats, gen_feats = fid_stats(ctx, cell, ext, n, batch, keep=prc_n, shift=ref_stats.mu,
                                     block_size=NOISE_BLOCK, seed_of=fid_noise_seed)
    else:
        blocks = fid_blocks(ctx, ext, n)  # block statistics for FID's error bars and FID_inf
        stats, gen_feats = image_stats(blocks or ext, fid_images(ctx, cell, n, batch), keep=prc_n, total=n,
                                       progress=ctx.progress, desc=f"FID samples {cell.id}")
    value = frechet_distance(stats, ref_stats)
    row.update(fid_protocol(ext, ref_info, n, tuple(result.x.shape)))
    verified = ext.weights.verified and ext.layer == "2048"
    if verified:
        row["fid"] = value
    else:
        row["fd_unverified"] = value
        row["fd_unverified_extractor"] = ext.weights.label
        add_note(row, "fid not reported: the Inception weights are not the published torch-fidelity file "
                      f"(sha256 {ext.weights.sha256[:16]}); value in fd_unverified")
    if blocks is not None:
        fid_uncertainty(ctx, cell, row, blocks, ref_stats, "fid" if verified else "fd_unverified")
    if prc_n and ref_feats is not None:
        k = int(opt(ctx, "prc_k"))
        m = min(len(gen_feats), len(ref_feats))
        try:
            p, r = precision_recall(gen_feats[:m], ref_feats[:m], k=k, device=ctx.device)
            suffix = "" if verified else "_unverified"
            row[f"precision{suffix}"], row[f"recall{suffix}"] = p, r
            row["prc_protocol"] = f"torch-fidelity improved P/R, {ext.id}, k={k}, {m} generated vs {m} reference"
        except InvalidInputError as exc:
            add_note(row, f"precision/recall not computed: {exc}")
    elif prc_n:
        add_note(row, "precision/recall not computed: the reference is precomputed statistics (no features)")
    row["fid_seconds"] = time.perf_counter() - start


# -- Fréchet distance in digits-classifier features -------------------------------------------------
def _digits(ctx):
    from ...metrics.digits_classifier import load_digits_classifier

    def build():
        clf, _ = load_digits_classifier(progress=ctx.progress)
        clf.to(ctx.device)
        return clf, clf.reference_stats()
    return _memo(ctx, "digits_classifier", build)


@register_cell_metric("fd_digits")
def fd_digits_metric(ctx, cell, result, row) -> None:
    from ...metrics.digits_classifier import REFERENCE_SPLIT
    from ...metrics.frechet import frechet_distance, stats_from_features

    if tuple(result.x.shape[1:]) != (1, 8, 8):
        add_note(row, f"fd_digits not computed: samples have shape {tuple(result.x.shape[1:])}, digits features "
                      "need (1, 8, 8)")
        return
    status, value = _digits(ctx)
    if status == "error":
        add_note(row, f"fd_digits not computed: {value}")
        return
    clf, ref = value
    feats = clf.features(result.x)
    row["fd_digits"] = frechet_distance(stats_from_features(feats), ref)
    stash(ctx, cell, "fd_digits", (feats, ref))
    if opt(ctx, "fd_inf"):  # FD_inf on fd_inf_n further samples
        fd_digits_inf(ctx, cell, row, clf, ref, fid_noise)
    row.update(fd_digits_extractor=clf.id, fd_digits_ref=f"digits-{REFERENCE_SPLIT}", fd_digits_ref_n=ref.n,
               fd_digits_n_samples=len(result.x), digits_classifier_acc=clf.test_acc)
