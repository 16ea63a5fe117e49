"""Fréchet distance between Gaussians fitted to features: FID's formula, in any feature space.

    FD = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^{1/2})

(Fréchet 1957; Heusel et al. 2017, arXiv 1706.08500). Everything is computed in float64.
tr((S_1 S_2)^{1/2}) is the sum of the square roots of the eigenvalues of S_1 S_2 (real and >= 0,
since S_1 S_2 is similar to the PSD matrix S_1^{1/2} S_2 S_1^{1/2}), computed in one of two ways:

* full rank (n > d on both sides): ``scipy.linalg.sqrtm(S_1 S_2)`` as pytorch-fid does; a
  non-finite result is retried with 1e-6 I added to both covariances (pytorch-fid's offset) and
  small imaginary parts from round-off are dropped; if they are not small (|imag| > 1e-3 on the
  diagonal), the eigenvalue formula torch-fidelity uses, sum(sqrt(eig(S_1 S_2))), is used instead.
* low rank (a side with n - 1 < d, e.g. a few dozen samples of 2048-d Inception features): with
  S_2 = X^T X / (n - 1) for the centred features X (n x d), the non-zero eigenvalues of S_1 S_2 are
  those of the n x n PSD matrix X S_1 X^T / (n - 1), so the trace is exact and cheap (``eigvalsh``).

A dataset's statistics are a :class:`FeatureStats` (mu, sigma, n); users' precomputed statistics
load from an ``.npz`` with keys ``mu`` (d,) and ``sigma`` (d, d) (pytorch-fid's ``--save-stats``
format) via :func:`load_stats_npz`.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidInputError

IMAG_TOL = 1e-3  # pytorch-fid's tolerance on the imaginary part of sqrtm's diagonal


@dataclass
class FeatureStats:
    """Mean (d,) and covariance (d, d) of n feature vectors, float64.

    ``centred`` (n, d) keeps the centred features themselves while n <= d, so the trace term can be
    computed exactly in the low-rank case (see the module docstring); None otherwise.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    centred: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    def to_dict(self) -> dict:
        """Tensors only (for rfbench's weights-only caches)."""
        return {"mu": torch.from_numpy(self.mu), "sigma": torch.from_numpy(self.sigma),
                "n": -1 if self.n is None else int(self.n),
                "centred": None if self.centred is None else torch.from_numpy(self.centred)}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureStats:
        n = int(d["n"])
        centred = d.get("centred")
        return cls(d["mu"].numpy().astype(np.float64), d["sigma"].numpy().astype(np.float64), None if n < 0 else n,
                   None if centred is None else centred.numpy().astype(np.float64))


def _as_numpy64(features) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().to(torch.float64).numpy()
    return np.asarray(features, dtype=np.float64)


def stats_from_features(features) -> FeatureStats:
    """Statistics of features (n, d) (tensor or array): mean and unbiased covariance (np.cov's)."""
    x = _as_numpy64(features)
    if x.ndim != 2 or x.shape[0] < 2:
        raise InvalidInputError(f"features must have shape (n >= 2, d), got {x.shape}")
    mu = x.mean(0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return FeatureStats(mu, sigma, x.shape[0], xc if x.shape[0] <= x.shape[1] else None)


class StatsAccumulator:
    """Streaming mean and covariance of feature batches, float64, independent of the batching.

    Sums are taken around a fixed shift (the first batch's mean) so that the covariance does not
    suffer from cancellation; the features themselves are kept while n <= d (for the exact
    low-rank trace).
    """

    def __init__(self):
        self.n = 0
        self._shift = None
        self._sum = None
        self._outer = None
        self._kept: list[np.ndarray] | None = []

    def update(self, features) -> None:
        x = _as_numpy64(features)
        if x.ndim != 2:
            raise InvalidInputError(f"feature batch must have shape (batch, d), got {x.shape}")
        if len(x) == 0:
            return
        if self._shift is None:
            self._shift = x.mean(0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((x.shape[1], x.shape[1]))
        xs = x - self._shift
        self._sum += xs.sum(0)
        self._outer += xs.T @ xs
        self.n += len(x)
        if self._kept is not None:
            self._kept.append(x)
            if self.n > x.shape[1]:
                self._kept = None

    def result(self) -> FeatureStats:
        if self.n < 2:
            raise InvalidInputError(f"need at least 2 feature vectors for statistics, got {self.n}")
        if self._kept is not None:  # exact same arithmetic as stats_from_features
            return stats_from_features(np.concatenate(self._kept))
        m = self._sum / self.n
        sigma = (self._outer - self.n * np.outer(m, m)) / (self.n - 1)
        sigma = (sigma + sigma.T) / 2
        return FeatureStats(self._shift + m, sigma, self.n, None)


def _trace_sqrt_lowrank(sigma: np.ndarray, centred: np.ndarray) -> float:
    n = centred.shape[0]
    # centred rows sum to zero: rotate onto the (n - 1)-dim complement of the ones vector (an
    # orthonormal Helmert basis) so no structurally zero eigenvalue is left to contribute sqrt(round-off)
    helmert = np.linalg.qr(np.eye(n)[:, :-1] - 1.0 / n)[0]  # n x (n - 1), columns orthogonal to ones
    x = helmert.T @ centred
    small = x @ sigma @ x.T / (n - 1)
    eig = np.linalg.eigvalsh((small + small.T) / 2)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def _trace_sqrt_full(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    from scipy import linalg

    with warnings.catch_warnings():  # "matrix is singular" (dead features): the checks below decide
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        warnings.warn("Fréchet distance: sqrtm(S1 S2) is not finite; adding 1e-6 I to both covariances "
                      "(pytorch-fid's offset)", stacklevel=3)
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if np.abs(np.diagonal(covmean).imag).max() > IMAG_TOL:
            warnings.warn("Fréchet distance: sqrtm(S1 S2) has a large imaginary part; using the "
                          "eigenvalue formula sum(sqrt(eig(S1 S2))) instead", stacklevel=3)
            eig = np.linalg.eigvals(sigma1 @ sigma2).astype(np.complex128)
            return float(np.sqrt(eig).real.sum())
        covmean = covmean.real
    return float(np.trace(covmean))


def trace_sqrt_product(a: FeatureStats, b: FeatureStats) -> float:
    """tr((S_a S_b)^{1/2}), exact low-rank form when one side has fewer samples than dimensions."""
    lowrank = [s for s in (a, b) if s.centred is not None and s.centred.shape[0] - 1 < s.dim]
    if lowrank:
        small = min(lowrank, key=lambda s: s.centred.shape[0])
        other = b if small is a else a
        return _trace_sqrt_lowrank(other.sigma, small.centred)
    return _trace_sqrt_full(a.sigma, b.sigma)


def _coerce(stats) -> FeatureStats:
    if isinstance(stats, FeatureStats):
        return stats
    if isinstance(stats, (tuple, list)) and len(stats) == 2:
        return FeatureStats(_as_numpy64(stats[0]), _as_numpy64(stats[1]))
    raise InvalidInputError(f"expected FeatureStats or a (mu, sigma) pair, got {type(stats).__name__}")


def frechet_distance(a, b) -> float:
    """Fréchet distance between two :class:`FeatureStats` (or (mu, sigma) pairs), float64."""
    a, b = _coerce(a), _coerce(b)
    for name, s in (("first", a), ("second", b)):
        if s.mu.ndim != 1 or s.sigma.shape != (s.dim, s.dim):
            raise InvalidInputError(f"{name} statistics: mu must be (d,) and sigma (d, d), got {s.mu.shape} "
                                    f"and {s.sigma.shape}")
    if a.dim != b.dim:
        raise InvalidInputError(f"statistics of different feature dimensions: {a.dim} vs {b.dim}")
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * trace_sqrt_product(a, b))


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_stats_npz(path: str | Path, dim: int | None = None) -> FeatureStats:
    """Precomputed statistics from an ``.npz`` with ``mu`` (d,) and ``sigma`` (d, d) (and optionally
    ``n``), checked for shape, finiteness and symmetry; ``dim`` is the feature dimension expected."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInputError(f"statistics file {path} does not exist (expected an .npz with 'mu' and 'sigma')")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("mu", "sigma") if k not in f.files]
            if missing:
                raise InvalidInputError(f"statistics file {path} lacks {missing}; it has {f.files}, "
                                        "expected 'mu' (d,) and 'sigma' (d, d)")
            mu, sigma = f["mu"].astype(np.float64), f["sigma"].astype(np.float64)
            n = int(f["n"]) if "n" in f.files else None
    except InvalidInputError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"statistics file {path} is not a readable .npz ({type(exc).__name__}: {exc})") from None
    d = mu.shape[0] if mu.ndim == 1 else None
    if d is None or sigma.shape != (d, d):
        raise InvalidInputError(f"statistics file {path}: mu must be (d,) and sigma (d, d), got {mu.shape} and {sigma.shape}")
    if dim is not None and d != dim:
        raise InvalidInputError(f"statistics file {path} has {d}-dimensional features, expected {dim}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise InvalidInputError(f"statistics file {path} contains non-finite values")
    if not np.allclose(sigma, sigma.T, rtol=1e-5, atol=1e-8 * max(1.0, float(np.abs(sigma).max()))):
        raise InvalidInputError(f"statistics file {path}: sigma is not symmetric")
    return FeatureStats(mu, sigma, n)


def save_stats_npz(stats: FeatureStats, path: str | Path) -> Path:
    """Write ``mu``, ``sigma`` and ``n`` to an .npz readable by :func:`load_stats_npz` and pytorch-fid."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {} if stats.n is None else {"n": np.int64(stats.n)}
    np.savez(path, mu=stats.mu, sigma=stats.sigma, **extra)
    return path


class MergeableStats:
    """Float64 sums of feature vectors that merge by addition: count n, sum s (d,) and sum of outer
    products S (d, d), all taken around a ``shift`` every party agrees on (e.g. the reference
    statistics' mean, or zeros) so that the covariance does not lose digits to cancellation.

    Shards of one sample set (ranks of ``torchrun``, array tasks, files on disk) each accumulate their
    part; :meth:`merge`, :meth:`all_reduce` or :meth:`from_dicts` add them, and :meth:`result` gives
    the same mean and covariance as :func:`stats_from_features` on all features (to float round-off:
    sums in another order), whatever the split.
    """

    def __init__(self, dim: int, shift=None):
        self.n = 0
        self.shift = np.zeros(dim) if shift is None else _as_numpy64(shift).reshape(dim).copy()
        self.sum = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    @property
    def dim(self) -> int:
        return int(self.shift.shape[0])

    def update(self, features) -> MergeableStats:
        x = _as_numpy64(features)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InvalidInputError(f"feature batch must have shape (batch, {self.dim}), got {x.shape}")
        xs = x - self.shift
        self.n += len(x)
        self.sum += xs.sum(0)
        self.outer += xs.T @ xs
        return self

    def merge(self, other: MergeableStats) -> MergeableStats:
        if other.dim != self.dim or not np.array_equal(other.shift, self.shift):
            raise InvalidInputError("mergeable statistics of different feature dimensions or shifts cannot be added")
        self.n += other.n
        self.sum += other.sum
        self.outer += other.outer
        return self

    def all_reduce(self, device="cpu") -> MergeableStats:
        """Sum over the ranks of the current torch.distributed group (in place; no-op without one)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self
        flat = torch.from_numpy(np.concatenate([[float(self.n)], self.sum, self.outer.ravel()])).to(device)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat = flat.cpu().numpy()
        d = self.dim
        self.n, self.sum, self.outer = int(round(flat[0])), flat[1:1 + d].copy(), flat[1 + d:].reshape(d, d).copy()
        return self

    def result(self) -> FeatureStats:
        if self.n < 2:
            raise InvalidInputError(f"need at least 2 feature vectors for statistics, got {self.n}")
        m = self.sum / self.n
        sigma = (self.outer - self.n * np.outer(m, m)) / (self.n - 1)
        return FeatureStats(self.shift + m, (sigma + sigma.T) / 2, self.n, None)

    def to_dict(self) -> dict:
        """Plain lists (JSON) for shard records on disk."""
        return {"n": self.n, "shift": self.shift.tolist(), "sum": self.sum.tolist(), "outer": self.outer.tolist()}

    @classmethod
    def from_dicts(cls, parts: list[dict]) -> MergeableStats:
        """The merge of shard records written by :meth:`to_dict`."""
        if not parts:
            raise InvalidInputError("no shard statistics to merge")
        out = None
        for part in parts:
            try:
                s = cls(len(part["shift"]), np.asarray(part["shift"], dtype=np.float64))
                s.n, s.sum = int(part["n"]), np.asarray(part["sum"], dtype=np.float64)
                s.outer = np.asarray(part["outer"], dtype=np.float64).reshape(s.dim, s.dim)
            except (KeyError, TypeError, ValueError):
                raise InvalidInputError("shard statistics must hold n, shift, sum and outer (from MergeableStats."
                                        "to_dict)") from None
            out = s if out is None else out.merge(s)
        return out
