"""Fréchet distances with error bars: mergeable moment statistics, bootstrap replicates from block
statistics, and FD_inf, the extrapolation of FD_N to infinitely many samples (Chong & Forsyth 2020).

Generated features are summarised per block of consecutive samples by :class:`MomentStats`
(count, mean, scatter = sum of centred outer products; float64). Blocks merge exactly (Chan,
Golub & LeVeque's pairwise update), so shards computed on different devices combine into the same
numbers, and serialise as plain arrays (:func:`blocks_to_arrays`). The reference statistics stay
fixed. A bootstrap replicate draws blocks with replacement (counts c_k from a
:class:`~rfbench.metrics.uncertainty.BootstrapPlan` over the K blocks) and its moments follow from
the block statistics:

    N* = sum_k c_k n_k,   m* = sum_k c_k n_k mu_k / N*,
    S* = (sum_k c_k W_k + sum_k c_k n_k (mu_k - m*)(mu_k - m*)^T) / (N* - 1).

Its Fréchet distance uses the eigenvalue route: with R = S_ref^{1/2} computed once,
tr((S_ref S*)^{1/2}) = sum sqrt(eig(R S* R)), one symmetric eigendecomposition per replicate
(R W_k R is precomputed per block). Blocks of one sample are the ordinary bootstrap over samples
(then the n x n Gram form is used when n < d). Formulas, the bias law and measured costs are in
docs/uncertainty.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InvalidInputError
from .frechet import FeatureStats, _coerce
from .uncertainty import (_TAG, DEFAULT_LEVEL, BootstrapPlan, Interval, Replicates, _check_int, _check_level,
                          influence_from_jackknife, jackknife_groups)

MEMORY_PER_BATCH = 256 * 2**20  # bytes of d x d matrices handled at once in the eigenvalue batches
SMALL_D = 512  # feature dimensions up to this run single-threaded on the CPU
MAX_GRAM = 4096  # per-sample bootstrap keeps the K x K Gram matrix of the samples up to this K


# -- mergeable statistics -------------------------------------------------------------------------
def _array64(features) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().to(torch.float64).numpy()
    x = np.asarray(features, np.float64)
    if x.ndim != 2:
        raise InvalidInputError(f"features must have shape (n, d), got {x.shape}")
    return x


@dataclass
class MomentStats:
    """Count ``n``, ``mean`` (d,) and ``scatter`` (d, d) = sum_i (x_i - mean)(x_i - mean)^T of n
    feature vectors, float64. ``a + b`` and :meth:`merge` give the statistics of the union."""

    n: int
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def from_features(cls, features) -> MomentStats:
        x = _array64(features)
        if len(x) == 0:
            return cls.zeros(x.shape[1])
        mean = x.mean(0)
        xc = x - mean
        return cls(len(x), mean, xc.T @ xc)

    @classmethod
    def zeros(cls, d: int) -> MomentStats:
        return cls(0, np.zeros(d), np.zeros((d, d)))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def __add__(self, other: MomentStats) -> MomentStats:
        if not isinstance(other, MomentStats):
            return NotImplemented
        if other.dim != self.dim:
            raise InvalidInputError(f"cannot merge statistics of {self.dim}- and {other.dim}-dimensional features")
        n = self.n + other.n
        if self.n == 0 or other.n == 0:
            src = other if self.n == 0 else self
            return MomentStats(src.n, src.mean.copy(), src.scatter.copy())
        delta = other.mean - self.mean
        return MomentStats(n, self.mean + delta * (other.n / n),
                           self.scatter + other.scatter + np.outer(delta, delta) * (self.n * other.n / n))

    @classmethod
    def merge(cls, items: Sequence[MomentStats]) -> MomentStats:
        """Statistics of the union of all items: the exact two-level formula (within + between)."""
        items = [s for s in items if s.n > 0]
        if not items:
            raise InvalidInputError("nothing to merge: no statistics with samples")
        if len({s.dim for s in items}) > 1:
            raise InvalidInputError(f"cannot merge statistics of different dimensions {sorted({s.dim for s in items})}")
        ns = np.array([s.n for s in items], np.float64)
        means = np.stack([s.mean for s in items])
        n = ns.sum()
        mean = ns @ means / n
        dev = means - mean
        scatter = sum(s.scatter for s in items) + (dev * ns[:, None]).T @ dev
        return cls(int(n), mean, scatter)

    def covariance(self, ddof: int = 1) -> np.ndarray:
        if self.n - ddof <= 0:
            raise InvalidInputError(f"need more than {ddof} feature vectors for a covariance, got {self.n}")
        return self.scatter / (self.n - ddof)

    def feature_stats(self) -> FeatureStats:
        """Mean and unbiased covariance as :class:`~rfbench.metrics.frechet.FeatureStats`."""
        return FeatureStats(self.mean.copy(), self.covariance(1), self.n, None)

    def to_dict(self) -> dict:
        """Numbers only: {"n": int, "mean": (d,) float64, "scatter": (d, d) float64}."""
        return {"n": int(self.n), "mean": self.mean, "scatter": self.scatter}

    @classmethod
    def from_dict(cls, d) -> MomentStats:
        mean, scatter = np.asarray(d["mean"], np.float64), np.asarray(d["scatter"], np.float64)
        if mean.ndim != 1 or scatter.shape != (len(mean), len(mean)):
            raise InvalidInputError(f"moment statistics: mean must be (d,) and scatter (d, d), got {mean.shape} "
                                    f"and {scatter.shape}")
        return cls(int(d["n"]), mean, scatter)


def blocks_to_arrays(blocks: Sequence[MomentStats]) -> dict[str, np.ndarray]:
    """Block statistics as three arrays (n (K,), mean (K, d), scatter (K, d, d)): np.savez-able and
    loadable with allow_pickle=False."""
    return {"n": np.array([b.n for b in blocks], np.int64), "mean": np.stack([b.mean for b in blocks]),
            "scatter": np.stack([b.scatter for b in blocks])}


def blocks_from_arrays(arrays) -> list[MomentStats]:
    n, mean, scatter = (np.asarray(arrays[k]) for k in ("n", "mean", "scatter"))
    if n.ndim != 1 or mean.shape[0] != len(n) or scatter.shape != (len(n), mean.shape[1], mean.shape[1]):
        raise InvalidInputError(f"block statistics: expected n (K,), mean (K, d), scatter (K, d, d), got {n.shape}, "
                                f"{mean.shape}, {scatter.shape}")
    return [MomentStats(int(k), m.astype(np.float64), s.astype(np.float64)) for k, m, s in zip(n, mean, scatter)]


class BlockAccumulator:
    """Streams feature batches, in sample order, into blocks of ``block_size`` consecutive samples
    (sample i lands in block i // block_size, whatever the batching)."""

    def __init__(self, block_size: int):
        self.block_size = _check_int("block_size", block_size, 1)
        self._blocks: list[MomentStats] = []
        self._buffer: list[np.ndarray] = []
        self._buffered = 0

    def update(self, features) -> None:
        x = _array64(features)
        while len(x):
            take = min(len(x), self.block_size - self._buffered)
            self._buffer.append(x[:take])
            self._buffered += take
            x = x[take:]
            if self._buffered == self.block_size:
                self._blocks.append(MomentStats.from_features(np.concatenate(self._buffer)))
                self._buffer, self._buffered = [], 0

    def blocks(self) -> list[MomentStats]:
        """The completed blocks, plus the partial last one if any."""
        tail = [MomentStats.from_features(np.concatenate(self._buffer))] if self._buffered else []
        return self._blocks + tail


def block_stats(features, block_size: int = 1) -> list[MomentStats]:
    acc = BlockAccumulator(block_size)
    acc.update(features)
    return acc.blocks()


# -- bootstrap replicates of a Fréchet distance ---------------------------------------------------
class _single_thread:
    """Small problems (d <= SMALL_D) run single-threaded on the CPU: their many small tensor ops and
    batched 100-dim eigendecompositions gain nothing from threads, and on a busy machine the thread
    team's spinning made them 50x slower (measured: 200 replicates at d = 128, 0.5 s CPU on one
    thread vs 29 s on two; docs/uncertainty.md)."""

    def __init__(self, active: bool):
        self.active = active

    def __enter__(self):
        self.saved = torch.get_num_threads()
        if self.active:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)


_SQRT_MEMO: dict[bytes, np.ndarray] = {}


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix, memoised by content (every cell of a suite shares its
    reference statistics; at d = 128 this eigh was most of a cell's setup)."""
    key = hashlib.blake2b(np.ascontiguousarray(sigma, np.float64).tobytes(), digest_size=16).digest()
    if key not in _SQRT_MEMO:
        with _single_thread(sigma.shape[0] <= SMALL_D):
            w, v = torch.linalg.eigh(torch.as_tensor((sigma + sigma.T) / 2, dtype=torch.float64))
        root = ((v * w.clamp(min=0).sqrt()) @ v.T).numpy()
        if len(_SQRT_MEMO) >= 4:
            _SQRT_MEMO.pop(next(iter(_SQRT_MEMO)))
        _SQRT_MEMO[key] = root
    return _SQRT_MEMO[key]


def _trace_sqrt_psd(mats: torch.Tensor) -> torch.Tensor:
    """sum sqrt(eig) of a batch of symmetric PSD matrices; eigenvalues below d eps lambda_max (round-off
    around structural zeros) count as 0."""
    eig = torch.linalg.eigvalsh(mats)
    cut = eig.amax(-1, keepdim=True).clamp(min=0) * (mats.shape[-1] * torch.finfo(mats.dtype).eps)
    return torch.where(eig > cut, eig, torch.zeros_like(eig)).clamp(min=0).sqrt().sum(-1)


class FrechetBootstrap:
    """Fréchet distance of resampled block statistics against fixed reference statistics.

    ``blocks``: :class:`MomentStats` per block (K of them; :meth:`from_features` for the bootstrap
    over single samples). ``reference``: :class:`~rfbench.metrics.frechet.FeatureStats` or
    (mu, sigma). ``device``: where the tensors and eigendecompositions live (float64). Memory: with
    blocks of more than one sample, R W_k R for each block (K d^2 float64)."""

    def __init__(self, blocks: Sequence[MomentStats], reference, *, device: str | torch.device = "cpu"):
        blocks = list(blocks)
        if any(b.n < 1 for b in blocks):
            raise InvalidInputError("every block needs at least one sample")
        self._setup(np.array([b.n for b in blocks], np.float64), np.stack([b.mean for b in blocks]) if blocks else None,
                    blocks, reference, device)

    @classmethod
    def from_features(cls, features, reference, *, block_size: int = 1,
                      device: str | torch.device = "cpu") -> FrechetBootstrap:
        """From the features themselves (n, d): blocks of ``block_size`` consecutive samples (1: the
        bootstrap over samples, without building a d x d matrix per sample)."""
        if _check_int("block_size", block_size, 1) > 1:
            return cls(block_stats(features, block_size), reference, device=device)
        x = _array64(features)
        self = cls.__new__(cls)
        self._setup(np.ones(len(x)), x, None, reference, device)
        return self

    def _setup(self, n_k: np.ndarray, mu: np.ndarray | None, blocks, reference, device) -> None:
        if mu is None or len(mu) < 2:
            got = 0 if mu is None else len(mu)
            raise InvalidInputError(f"need at least 2 blocks of features to resample, got {got}")
        ref = _coerce(reference)
        if mu.shape[1] != ref.dim:
            raise InvalidInputError(f"features have dimension {mu.shape[1]}, the reference {ref.dim}")
        dev = torch.device(device)
        with _single_thread(dev.type == "cpu" and ref.dim <= SMALL_D):
            self._tensors(n_k, mu, blocks, ref, dev)

    def _tensors(self, n_k: np.ndarray, mu: np.ndarray, blocks, ref: FeatureStats, dev: torch.device) -> None:
        d = ref.dim
        f64 = torch.float64
        self.device, self.d, self.K = dev, d, len(mu)
        self.n_k = n_k
        self.N = int(self.n_k.sum())
        r = _psd_sqrt(ref.sigma)
        shift = self.n_k @ mu / self.N  # block means are kept relative to the overall mean (no cancellation)
        mu_c = mu - shift
        self._offset = torch.as_tensor(shift - ref.mu, dtype=f64, device=dev)
        self._tr_ref = float(np.trace(ref.sigma))
        self._mu = torch.as_tensor(mu_c, dtype=f64, device=dev)                     # (K, d)
        self._sq = (self._mu**2).sum(1)                                              # |mu_k - shift|^2
        self._z = torch.as_tensor(mu_c @ r, dtype=f64, device=dev)                   # (K, d), rows R (mu_k - shift)
        self._r = torch.as_tensor(r, dtype=f64, device=dev)
        self._nk = torch.as_tensor(self.n_k, dtype=f64, device=dev)
        self.singletons = bool(np.all(self.n_k == 1))
        self._gram = self._z @ self._z.T if self.singletons and self.K <= MAX_GRAM else None
        if self.singletons:
            self._rwr = None
            self._trw = torch.zeros(self.K, dtype=f64, device=dev)
        else:  # R W_k R per block: K d^2 float64 (docs: memory)
            self._trw = torch.tensor([float(np.trace(b.scatter)) for b in blocks], dtype=f64, device=dev)
            self._rwr = torch.empty((self.K, d, d), dtype=f64, device=dev)
            for k, b in enumerate(blocks):  # one block at a time: peak memory stays K d^2
                self._rwr[k] = self._r @ torch.as_tensor(b.scatter, dtype=f64, device=dev) @ self._r
        size = min(self.K, d) if self._gram is not None else d
        self._batch = max(1, min(64, MEMORY_PER_BATCH // (8 * size**2 + 8 * self.K * d)))

    def values(self, counts, ddof: int = 1) -> np.ndarray:
        """FD of the statistics with block multiplicities ``counts`` (C, K) (or (K,)): (C,) float64.
        ``ddof`` = 1: unbiased covariance, as rfbench's FD; 0: the plug-in (population) covariance."""
        c_all = torch.as_tensor(np.atleast_2d(np.asarray(counts, np.float64)), dtype=torch.float64, device=self.device)
        if c_all.shape[1] != self.K:
            raise InvalidInputError(f"counts over {c_all.shape[1]} blocks, expected {self.K}")
        with _single_thread(self.device.type == "cpu" and self.d <= SMALL_D):
            return self._values(c_all, ddof)

    def _values(self, c_all: torch.Tensor, ddof: int) -> np.ndarray:
        out = []
        for c in c_all.split(self._batch):
            wk = c * self._nk                                     # (C, K) samples per block in the replicate
            N = wk.sum(1)
            m = wk @ self._mu / N[:, None]                        # (C, d), relative to the overall mean
            mean_term = ((m + self._offset) ** 2).sum(1)
            tr_s = (c @ self._trw + wk @ self._sq - N * (m**2).sum(1)) / (N - ddof)
            rm = m @ self._r                                      # (C, d)
            P = int((c > 0).sum(1).max())
            if self._gram is not None and P < self.d:
                # only the P distinct samples of each replicate (padded with weight 0) enter; the
                # non-zero eigenvalues of sum_k w_k (z_k - rm)(z_k - rm)^T are those of the P x P
                # matrix sqrt(w_i w_j) (z_i - rm).(z_j - rm), built from the precomputed Gram z z^T
                w_sel, idx = torch.sort(wk, dim=1, descending=True)
                w_sel, idx = w_sel[:, :P], idx[:, :P]
                g = self._gram[idx[:, :, None], idx[:, None, :]]               # (C, P, P)
                h = torch.einsum("cpd,cd->cp", self._z[idx], rm)              # z_i . rm
                sq = (rm**2).sum(1)
                sw = w_sel.sqrt()
                mats = (g - h[:, :, None] - h[:, None, :] + sq[:, None, None]) * sw[:, :, None] * sw[:, None, :]
            else:
                mats = torch.einsum("ck,ki,kj->cij", wk, self._z, self._z) \
                    - N[:, None, None] * rm[:, :, None] * rm[:, None, :]
                if self._rwr is not None:
                    mats = mats + torch.einsum("ck,kij->cij", c, self._rwr)
            mats = mats / (N - ddof)[:, None, None]
            trace_sqrt = _trace_sqrt_psd((mats + mats.transpose(1, 2)) / 2)
            out.append(mean_term + tr_s + self._tr_ref - 2 * trace_sqrt)
        return torch.cat(out).cpu().numpy()

    def estimate(self, ddof: int = 1) -> float:
        return float(self.values(np.ones(self.K), ddof)[0])

    def replicates(self, plan: BootstrapPlan, *, jackknife: int | None = None) -> Replicates:
        """Replicates over ``plan`` (plan.n must equal the number of blocks K). Influence values (only
        BCa needs them, and BCa fails for FD once its bias is large, docs): a grouped jackknife over
        ``jackknife`` contiguous groups of blocks (None: none, one eigendecomposition per group saved).
        ``truth`` (bootstrap-world value, for basic intervals): the FD of the plug-in moments."""
        if plan.n != self.K:
            raise InvalidInputError(f"resampling plan over n={plan.n} units, but there are {self.K} blocks")
        out = np.empty(plan.B)
        for start, c in plan.chunks(max(self._batch, 16)):
            out[start:start + len(c)] = self.values(c)
        infl = None
        if jackknife:
            groups = jackknife_groups(self.K, jackknife)
            loo = np.ones((len(groups), self.K))
            for row, g in enumerate(groups):
                loo[row, g] = 0
            infl = influence_from_jackknife(self.values(loo))
        return Replicates(self.estimate(), out, plan, infl, self.estimate(ddof=0), "frechet")


# -- FD_inf ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FDInf:
    """FD_inf = the intercept of the least-squares line FD_N = FD_inf + slope / N through FD at
    subsample sizes ``sizes`` (``fds``); ``interval``: the bootstrap's (basic, docs). The slope is
    descriptive: its bootstrap interval covered the Gaussian-theory slope in only 57-76 % (docs)."""

    estimate: float
    slope: float
    sizes: tuple[int, ...]
    fds: tuple[float, ...]
    interval: Interval | None
    slope_interval: Interval | None
    replicates: Replicates | None

    def columns(self, metric: str) -> dict:
        """Row columns ``<metric>_inf`` (+ ``_lo``/``_hi``/``_ci``), ``<metric>_inf_slope`` and the sizes."""
        row = {f"{metric}_inf": self.estimate, f"{metric}_inf_slope": self.slope,
               f"{metric}_inf_sizes": " ".join(str(s) for s in self.sizes)}
        if self.interval is not None:
            row.update(self.interval.columns(f"{metric}_inf"))
        return row


def _permutation(k: int, seed: int, i: int, b: int = -1) -> np.ndarray:
    """A permutation of range(k), a pure function of (seed, size index i, replicate b; -1: the
    actual sample) (argsort of PCG64 raw output)."""
    return np.argsort(np.random.PCG64(np.random.SeedSequence([_TAG, 1, seed, i, b + 1])).random_raw(k), kind="stable")


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise least squares y = intercept + slope x; x, y (R, P)."""
    xm, ym = x.mean(1, keepdims=True), y.mean(1, keepdims=True)
    slope = ((x - xm) * (y - ym)).sum(1) / ((x - xm) ** 2).sum(1)
    return ym[:, 0] - slope * xm[:, 0], slope


def subsample_units(n_blocks: int, sizes: Sequence[int], seed: int, replicate: int = -1) -> list[np.ndarray]:
    """Positions drawn for each subsample: for size i, the first sizes[i] entries of a permutation
    fixed by (seed, i, replicate) (replicate -1: the actual sample)."""
    return [_permutation(n_blocks, seed, i, replicate)[:k] for i, k in enumerate(sizes)]


def fd_inf(boot: FrechetBootstrap, *, n_points: int = 15, min_size: int | None = None,
           plan: BootstrapPlan | None = None, seed: int = 0, level: float = DEFAULT_LEVEL) -> FDInf:
    """FD_inf (Chong & Forsyth 2020, arXiv 1911.07023): FD on random subsets (without replacement)
    of ``n_points`` sizes evenly spaced from ``min_size`` to all N samples (their protocol: 15 sizes,
    5,000 to 50,000), the line FD_N = FD_inf + k / N fitted by least squares, FD_inf its intercept.

    Sizes are whole blocks. ``min_size`` defaults to max(N / 10, 2 d): the 1/N law is the leading
    term of an expansion that needs N well above the feature dimension d; smaller is refused.
    ``plan`` (over the blocks): the bootstrap repeats the whole procedure on each replicate, fresh
    random subsets included (drawn from (seed, size, replicate)); the interval is the basic one
    around the bootstrap world's FD_inf, the FD of the full sample's plug-in moments."""
    level = _check_level(level)
    n_points = _check_int("n_points", n_points, 3)
    block = boot.N / boot.K
    lo_size = max(boot.N / 10, 2 * boot.d) if min_size is None else float(min_size)
    if lo_size <= boot.d:
        raise InvalidInputError(f"FD_inf min_size {lo_size:g} must exceed the feature dimension {boot.d} "
                                "(the 1/N law holds for N well above d)")
    if lo_size >= boot.N:
        raise InvalidInputError(f"FD_inf needs subsample sizes below the {boot.N} samples; min_size is {lo_size:g}")
    units = np.unique(np.clip(np.round(np.linspace(lo_size, boot.N, n_points) / block), 1, boot.K).astype(int))
    if len(units) < 3:
        raise InvalidInputError(f"FD_inf needs at least 3 distinct subsample sizes; {boot.K} blocks of ~{block:g} "
                                f"samples give {len(units)}")

    def fit(counts: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """counts (C, K) of replicates first.. (first -1: the actual sample) -> intercepts, slopes,
        FDs (C, P), sizes (C, P). Each replicate draws its own subsets, as the procedure does."""
        rows, sizes = [], []
        for row, c in enumerate(counts.astype(np.int64)):
            multiset = np.repeat(np.arange(boot.K), c)  # the replicate's blocks
            for pos in subsample_units(boot.K, units, seed, -1 if first < 0 else first + row):
                sc = np.bincount(multiset[pos], minlength=boot.K)
                rows.append(sc)
                sizes.append(sc @ boot.n_k)
        fds = boot.values(np.array(rows)).reshape(len(counts), len(units))
        ns = np.array(sizes, np.float64).reshape(len(counts), len(units))
        b0, b1 = _fit_line(1.0 / ns, fds)
        return b0, b1, fds, ns

    b0, b1, fds, ns = fit(np.ones((1, boot.K)), -1)
    interval = slope_iv = reps = None
    if plan is not None:
        if plan.n != boot.K:
            raise InvalidInputError(f"resampling plan over n={plan.n} units, but there are {boot.K} blocks")
        inter, slopes = np.empty(plan.B), np.empty(plan.B)
        for start, c in plan.chunks(max(1, 64 // len(units))):
            i0, i1, _, _ = fit(c, start)
            inter[start:start + len(c)], slopes[start:start + len(c)] = i0, i1
        truth = boot.estimate(ddof=0)
        reps = Replicates(float(b0[0]), inter, plan, None, truth, "fd_inf")
        interval = reps.interval("basic", level)
        slope_iv = Replicates(float(b1[0]), slopes, plan, None, None, "fd_inf slope").interval("basic", level)
    return FDInf(float(b0[0]), float(b1[0]), tuple(int(v) for v in ns[0]), tuple(float(v) for v in fds[0]),
                 interval, slope_iv, reps)


__all__ = ["BlockAccumulator", "FDInf", "FrechetBootstrap", "MomentStats", "block_stats", "blocks_from_arrays",
           "blocks_to_arrays", "fd_inf", "subsample_units"]
