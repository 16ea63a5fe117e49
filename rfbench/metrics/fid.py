"""FID with torch-fidelity's Inception-v3 (the TF-ported network papers use), on uint8 images.

Protocol (recorded next to every number, see :func:`fid_protocol`):

* **Extractor**: ``torch_fidelity.feature_extractor_inceptionv3.FeatureExtractorInceptionV3``
  ("inception-v3-compat"), pool3 features (2048), float32 inside, in ``eval()`` mode. Images enter as
  uint8 (n, 3, H, W) and the extractor itself resizes them to 299 x 299 with its TF1-compatible
  bilinear interpolation; grayscale images are repeated to three channels.
* **Weights**: never downloaded by rfbench. Looked up in this order: an explicit path (suite option
  ``fid_weights``), ``$RFBENCH_INCEPTION_WEIGHTS``, torch-fidelity's own download location
  ``$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth``. The file's sha256 is
  its identity; only the published file (sha256 6726825d0af5f729..., the value torch hub's file-name
  suffix abbreviates and that other projects pin) yields a number named ``fid``. Any other file
  (e.g. the randomly initialised stand-in used by tests and ``--smoke``) gives ``fd_unverified``.
  A file is first opened with ``torch.load(weights_only=True)`` so a malicious pickle cannot run
  (torch-fidelity itself loads with ``weights_only=False``).
* **float -> uint8**: samples in [-1, 1] are clamped to [-1, 1] and mapped to round((x + 1) * 127.5)
  (:func:`to_uint8`; torch.round, i.e. half to even), the inverse of the data scaling u / 127.5 - 1.
* **Statistics**: float64 mean and unbiased covariance streamed over batches
  (:class:`~rfbench.metrics.frechet.StatsAccumulator`, independent of the batch size); reference
  statistics are cached per (reference set, its data files, sample count, extractor, weights sha256)
  with :func:`rfbench.cache.cached`; users' precomputed ``.npz`` (mu, sigma) are accepted.
* **Precision / recall**: torch-fidelity's own implementation (Kynkäänniemi et al. 2019, k = 3
  nearest neighbours) on Inception pool3 features of ``prc_n`` generated and reference images.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import cache
from .. import progress as _progress
from ..errors import CheckpointError, InvalidInputError, MissingResourceError
from ..registry import Registry
from .frechet import FeatureStats, StatsAccumulator, file_sha256, frechet_distance, load_stats_npz

KNOWN_INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INCEPTION_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
ENV_INCEPTION = "RFBENCH_INCEPTION_WEIGHTS"
EXTRACTOR_NAME = "inception-v3-compat"
FID_LAYER = "2048"
UINT8_RULE = "clamp to [-1, 1], round((x + 1) * 127.5) half-to-even, uint8"
RESIZE_RULE = "uint8 input, bilinear to 299x299 inside the torch-fidelity extractor (TF1-compatible)"
STATS_VERSION = 1  # bump when the statistics procedure changes


@dataclass(frozen=True)
class WeightsFile:
    """A metric network's weights: where they came from, their sha256, and whether the file is the
    published one (only then may the metric carry its standard name)."""

    path: Path
    sha256: str
    source: str
    verified: bool
    label: str


_SHA_MEMO: dict[tuple, str] = {}


def cached_sha256(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) for this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        _SHA_MEMO[key] = file_sha256(path)
    return _SHA_MEMO[key]


def hub_checkpoint_dir() -> Path:
    """Where torch hub (and so torch-fidelity and torchvision) keeps downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(explicit: str | os.PathLike | None, env_var: str, hub_filename: str, what: str,
                    is_published: Callable[[str], bool]) -> WeightsFile:
    """Find a weights file: explicit path, then ``$env_var``, then the torch hub cache. An explicit
    path or variable that points nowhere is an error (never silently replaced by another file)."""
    tried = []
    for source, value in (("option", explicit), (f"${env_var}", os.environ.get(env_var))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise MissingResourceError(f"{what} weights file {path} (from {source}) does not exist")
            sha = cached_sha256(path)
            return WeightsFile(path, sha, source, is_published(sha), f"{path.name} (sha256 {sha[:16]})")
        tried.append(f"{source} (not set)")
    path = hub_checkpoint_dir() / hub_filename
    if path.is_file():
        sha = cached_sha256(path)
        return WeightsFile(path, sha, "torch hub cache", is_published(sha), f"{path.name} (sha256 {sha[:16]})")
    tried.append(str(path))
    raise MissingResourceError(
        f"{what} weights not available (tried {', '.join(tried)}); rfbench never downloads them: copy "
        f"{hub_filename} there or name it with {env_var}=PATH")


def resolve_inception_weights(path: str | os.PathLike | None = None) -> WeightsFile:
    return resolve_weights(path, ENV_INCEPTION, INCEPTION_FILENAME, "Inception (FID)",
                           lambda sha: sha == KNOWN_INCEPTION_SHA256)


def _random_inception_state(seed: int) -> dict:
    """A randomly initialised torch-fidelity Inception state dict, built without any download.

    Conv weights are drawn N(0, 2 / fan_in) (He init) so activations keep their scale through the
    ~100 layers (PyTorch's default init makes pool3 features vanish, ~1e-8); BatchNorm is identity.
    """
    from unittest import mock

    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        net = fe.FeatureExtractorInceptionV3(EXTRACTOR_NAME, [FID_LAYER])
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in net.state_dict().items():
        value = value.detach().clone()
        if value.ndim == 4 or key == "fc.weight":
            value = torch.randn(value.shape, generator=gen) * (2.0 / value[0].numel()) ** 0.5
        elif key == "fc.bias":
            value = torch.zeros_like(value)
        state[key] = value
    return state


def standin_inception_weights(seed: int = 0) -> WeightsFile:
    """A saved, randomly initialised Inception (cached): for tests and --smoke, never reported as FID."""
    path = cache.cache_dir("standins") / f"inception-v3-compat-random-seed{seed}-v1.pth"
    cache.cached(path, lambda: _random_inception_state(seed))
    sha = cached_sha256(path)
    return WeightsFile(path, sha, "stand-in", False,
                       f"stand-in: randomly initialised inception-v3-compat, seed {seed} (sha256 {sha[:16]}); not FID")


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (any float dtype) -> uint8 in [0, 255]: clamp, round((x + 1) * 127.5)."""
    if x.dtype == torch.uint8:
        return x
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class InceptionFeatures:
    """torch-fidelity's Inception-v3 feature extractor on uint8 images (n, C, H, W) -> (n, d) float32.

    ``layer``: "2048" (pool3, FID's features) or one of torch-fidelity's smaller layers ("64",
    "192", "768"), which the tests use because they stop the network early.
    """

    def __init__(self, weights: WeightsFile, *, device: str | torch.device = "cpu", layer: str = FID_LAYER,
                 batch_size: int = 128):
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        try:  # refuse pickles that need more than tensors before torch-fidelity unpickles the file fully
            torch.load(weights.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"Inception weights file {weights.path} cannot be read as a plain state dict "
                                  f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
        try:
            net = FeatureExtractorInceptionV3(EXTRACTOR_NAME, [layer], feature_extractor_weights_path=str(weights.path))
        except RuntimeError as exc:
            raise CheckpointError(f"Inception weights file {weights.path} does not fit torch-fidelity's "
                                  f"inception-v3-compat: {str(exc).splitlines()[0]}") from None
        self.net = net.to(torch.device(device)).eval()
        self.weights, self.layer, self.batch_size = weights, layer, int(batch_size)
        self.device = torch.device(device)
        self.id = f"torch-fidelity {EXTRACTOR_NAME} " + ("pool3 2048" if layer == FID_LAYER else f"layer {layer}")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise InvalidInputError(f"Inception features need uint8 images (n, 1 or 3, H, W), got "
                                    f"{images.dtype} {tuple(images.shape)}; convert with to_uint8")
        out = []
        for chunk in images.split(self.batch_size):
            chunk = chunk.to(self.device)
            if chunk.shape[1] == 1:
                chunk = chunk.expand(-1, 3, -1, -1)
            out.append(self.net(chunk)[0].float().cpu())
        return torch.cat(out) if out else torch.empty(0, 0)


def image_stats(extractor: InceptionFeatures, batches: Iterable[torch.Tensor], *, keep: int = 0,
                total: int | None = None, progress: bool = False, desc: str = "features"
                ) -> tuple[FeatureStats, torch.Tensor | None]:
    """Statistics of uint8 image batches; also returns the first ``keep`` feature vectors (or None)."""
    acc = StatsAccumulator()
    kept: list[torch.Tensor] = []
    n_kept = 0
    with _progress.bar(total=total, desc=desc, unit="img", disable=not progress, leave=False, estimate=True) as bar:
        for batch in batches:
            feats = extractor(batch)
            acc.update(feats)
            if n_kept < keep:
                kept.append(feats[: keep - n_kept])
                n_kept += len(kept[-1])
            bar.update(len(batch))
    return acc.result(), (torch.cat(kept) if kept else None)


def chunks(images: torch.Tensor, size: int) -> Iterable[torch.Tensor]:
    yield from images.split(size)


# -- reference sets ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FIDReference:
    """A reference image set for FID: ``load(options)`` -> uint8 (N, C, H, W); ``identity(options)``
    -> a string that changes when the underlying data do (e.g. file hashes); both may raise
    MissingResourceError naming what is missing."""

    name: str
    description: str
    load: Callable[[dict], torch.Tensor]
    identity: Callable[[dict], str]


FID_REFERENCES: Registry[FIDReference] = Registry("FID reference set")


def register_fid_reference(ref: FIDReference) -> FIDReference:
    return FID_REFERENCES.register(ref.name, ref, replace=True)


def _standin_images(options: dict) -> torch.Tensor:
    """Smooth random uint8 images (seeded): a stand-in reference set for --smoke and tests."""
    n, size = int(options.get("standin_ref_size", 64)), int(options.get("image_size", 32))
    gen = torch.Generator().manual_seed(1234)
    low = torch.rand((n, 3, max(2, size // 4), max(2, size // 4)), generator=gen)
    img = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return (img * 255).round().to(torch.uint8)


register_fid_reference(FIDReference(
    "standin", "stand-in: smooth random images (seed 1234), for --smoke and tests only", _standin_images,
    lambda o: f"standin-{o.get('standin_ref_size', 64)}-{o.get('image_size', 32)}"))


def reference_stats(ref: str, extractor: InceptionFeatures, n: int | None, options: dict | None = None, *,
                    prc_n: int = 0, progress: bool = False) -> tuple[FeatureStats, torch.Tensor | None, dict]:
    """Reference statistics (and the first ``prc_n`` reference features) for a registered reference
    set or a user's ``.npz``; computed once and cached. Returns (stats, prc_features, info) with
    info = {"ref": id, "ref_n": N used or None, "cache_hit": bool, "path": cache file}.

    ``n``: the first n images of the set (None: all of them)."""
    options = dict(options or {})
    if str(ref).endswith(".npz"):
        path = Path(ref).expanduser()
        stats = load_stats_npz(path, dim=int(extractor.layer) if extractor.layer.isdigit() else None)
        return stats, None, {"ref": f"npz:{path.name} (sha256 {cached_sha256(path)[:16]})", "ref_n": stats.n,
                             "cache_hit": True, "path": str(path)}
    entry = FID_REFERENCES.get(ref)
    key = {"ref": ref, "data": entry.identity(options), "n": n, "prc_n": prc_n, "extractor": extractor.id,
           "weights": extractor.weights.sha256, "v": STATS_VERSION}
    path = cache.cache_file("fid-stats", f"{ref}-{EXTRACTOR_NAME}-{extractor.layer}-{cache.config_hash(key)}.pt")

    def build() -> dict:
        images = entry.load(options)
        if n is not None:
            if n > len(images):
                raise InvalidInputError(f"reference set {ref!r} has {len(images)} images, fewer than the "
                                        f"{n} requested (fid_ref_n)")
            images = images[:n]
        stats, feats = image_stats(extractor, chunks(images, extractor.batch_size), keep=prc_n, total=len(images),
                                   progress=progress, desc=f"reference {ref}")
        return {"stats": stats.to_dict(), "prc_features": feats}

    value, hit = cache.cached(path, build)
    stats = FeatureStats.from_dict(value["stats"])
    return stats, value["prc_features"], {"ref": ref, "ref_n": stats.n, "cache_hit": hit, "path": str(path)}


def fid_from_images(images1: torch.Tensor, images2: torch.Tensor, extractor: InceptionFeatures) -> float:
    """Fréchet distance between two uint8 image sets in the extractor's features (FID when the
    extractor carries the published weights and layer 2048)."""
    s1, _ = image_stats(extractor, chunks(images1, extractor.batch_size))
    s2, _ = image_stats(extractor, chunks(images2, extractor.batch_size))
    return frechet_distance(s1, s2)


def precision_recall(gen_features: torch.Tensor, ref_features: torch.Tensor, k: int = 3,
                     device: str | torch.device = "cpu") -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) by torch-fidelity's implementation:
    precision = share of generated samples inside some reference sample's k-NN ball, recall = the
    converse. Features (n, d); returns (precision, recall)."""
    from torch_fidelity.metric_prc import calculate_precision_recall_part

    if min(len(gen_features), len(ref_features)) <= k:
        raise InvalidInputError(f"precision/recall with k={k} needs more than k samples on each side, got "
                                f"{len(gen_features)} and {len(ref_features)}")
    dev = torch.device(device)
    return calculate_precision_recall_part(gen_features.float().to(dev), ref_features.float().to(dev),
                                           neighborhood=k, batch_size=10000)


def fid_protocol(extractor: InceptionFeatures, ref_info: dict, n_samples: int, image_shape: tuple[int, ...]) -> dict:
    """The columns that say how an Inception-based number was computed."""
    import torch_fidelity

    return {"fid_extractor": extractor.id, "fid_weights_sha256": extractor.weights.sha256,
            "fid_impl": f"torch-fidelity {torch_fidelity.__version__}", "fid_ref": ref_info["ref"],
            "fid_ref_n": ref_info["ref_n"], "fid_n_samples": int(n_samples),
            "image_resolution": f"{image_shape[-2]}x{image_shape[-1]}", "resize_rule": RESIZE_RULE,
            "uint8_rule": UINT8_RULE}


__all__ = ["FIDReference", "FID_REFERENCES", "InceptionFeatures", "KNOWN_INCEPTION_SHA256", "WeightsFile",
           "fid_from_images", "fid_protocol", "image_stats", "precision_recall", "reference_stats",
           "register_fid_reference", "resolve_inception_weights", "standin_inception_weights", "to_uint8"]
