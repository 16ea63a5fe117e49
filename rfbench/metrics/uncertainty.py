"""Error bars for rfbench's metrics: bootstrap replicates shared across cells, intervals, paired tests,
rankings with groups of indistinguishable samplers, and t-intervals across seeds.

Every sampler in a cell row starts from the same noise, so sample ``i`` of sampler A and sample ``i``
of sampler B share their noise. A :class:`BootstrapPlan` (n, B, seed) fixes B resampling index sets
over the n sample indices; every cell with the same noise resamples with the same sets, so the
paired difference of two samplers is the difference of their replicate vectors, replicate by
replicate (the noise they share cancels). A cell keeps, per metric, a :class:`Replicates`: the
estimate, its B replicate values and the influence values BCa needs (numbers only, no samples).

Replicates of each metric kind:

* a mean of per-sample values (ref_rmse, psnr, lpips, inversion errors): :func:`mean_replicates`,
  a weighted mean per replicate (exact, cheap);
* exact W2 and sliced W2 (2-D): :func:`w2_replicates` (the resampled points enter the optimal-transport
  problem as count weights) and :func:`sliced_w2_replicates` (vectorised 1-D quantile integrals);
  ``method="linear"`` gives first-order replicates from the derivative with respect to the sample
  weights (one solve in all instead of one per replicate);
* Fréchet distances (fd_digits, FID): :mod:`rfbench.metrics.frechet_bootstrap`.

Intervals (:func:`bootstrap_interval`: percentile, basic, BCa, centred; :func:`t_interval` across
seeds), paired comparisons (:func:`compare`, :func:`paired_p_value`) and rankings with groups
(:func:`rank_with_groups`). Which interval suits which statistic (FD and W2 are biased), the
formulas and the measured validation (coverage, uniform p-values, costs) are in docs/uncertainty.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

DEFAULT_LEVEL = 0.95
DEFAULT_B = 1000  # means cost nothing per replicate; W2 and Fréchet distances choose smaller B (docs)
METHODS = ("percentile", "basic", "bca", "centred")
# The interval each kind of replicates gets by default (docs/uncertainty.md, "Which interval"): BCa for
# means; for biased statistics (Fréchet distances, exact W2 / sliced W2, whose replicates sit above
# the estimate by the statistic's own bias) "centred", an interval for the value the metric takes on
# average at this sample size; the first-order W2 replicates carry no such shift; FD_inf: basic.
DEFAULT_METHODS = {"mean": "bca", "frechet": "centred", "w2-exact": "centred", "sw2-exact": "centred",
                   "w2-linear": "percentile", "sw2-linear": "percentile", "fd_inf": "basic"}


_TAG = 0x7266_6263  # "rfbc": keeps the resampling streams apart from any other use of the same seed


def default_method(kind: str) -> str:
    """The default interval method for replicates of ``kind`` (percentile for unknown kinds)."""
    return DEFAULT_METHODS.get(kind, "percentile")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_level(level: float) -> float:
    if not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InvalidInputError(f"confidence level must be in (0, 1), got {level!r}")
    return float(level)


# -- resampling plans ----------------------------------------------------------------------------
def _replicate_indices(n: int, seed: int, b: int) -> np.ndarray:
    """Index set of replicate ``b``: n draws with replacement from range(n).

    PCG64 seeded by SeedSequence([tag, seed, b]); the raw 64-bit outputs (a stream numpy keeps
    stable across versions, unlike Generator.integers) are mapped to floor(u * n) with u the top
    53 bits as a uniform in [0, 1). Replicate b does not depend on B, so a plan's first B' replicates
    are those of any plan with more."""
    raw = np.random.PCG64(np.random.SeedSequence([_TAG, seed, b])).random_raw(n)
    u = (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return np.minimum((u * n).astype(np.int64), n - 1)


def _counts(n: int, seed: int, start: int, stop: int) -> np.ndarray:
    out = np.empty((max(0, stop - start), n), np.int32)
    for row, b in enumerate(range(start, stop)):
        out[row] = np.bincount(_replicate_indices(n, seed, b), minlength=n)
    return out


_MEMO_ELEMENTS = 1 << 20  # counts blocks up to 4 MB are memoised


@functools.lru_cache(maxsize=16)
def _counts_memo(n: int, seed: int, start: int, stop: int) -> np.ndarray:
    out = _counts(n, seed, start, stop)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class BootstrapPlan:
    """B resampling index sets over ``n`` units (samples, or blocks of samples), a pure function of
    (n, B, seed): every cell with the same n and noise resamples identically, so replicates pair.

    Memory: counts are produced in chunks of replicates (``chunks``), (chunk, n) int32 at a time;
    a full (B, n) matrix is never needed (n = 50,000, B = 1000 would be 200 MB)."""

    n: int
    B: int = DEFAULT_B
    seed: int = 0

    def __post_init__(self):
        _check_int("bootstrap units n", self.n, 2)
        _check_int("bootstrap replicates B", self.B, 1)
        _check_int("bootstrap seed", self.seed, 0)

    def indices(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start, n) int64: the index sets of replicates start..stop-1."""
        stop = self.B if stop is None else min(stop, self.B)
        return np.stack([_replicate_indices(self.n, self.seed, b) for b in range(start, stop)]) \
            if stop > start else np.empty((0, self.n), np.int64)

    def counts(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start, n) int32: how often each unit appears in replicates start..stop-1
        (read-only; memoised per process when small, since every cell of a row reuses them)."""
        stop = self.B if stop is None else min(stop, self.B)
        if (stop - start) * self.n <= _MEMO_ELEMENTS:
            return _counts_memo(self.n, self.seed, start, stop)
        return _counts(self.n, self.seed, start, stop)

    def chunks(self, size: int = 64) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (first replicate, counts (k <= size, n)) over all B replicates."""
        size = _check_int("chunk size", size, 1)
        whole = self.counts() if self.B * self.n <= _MEMO_ELEMENTS else None  # memoised: slice it
        for start in range(0, self.B, size):
            yield start, whole[start:start + size] if whole is not None else self.counts(start, start + size)

    @property
    def label(self) -> str:
        return f"B={self.B}, seed {self.seed}, n={self.n}"

    def to_dict(self) -> dict:
        return {"n": self.n, "B": self.B, "seed": self.seed}

    @classmethod
    def from_dict(cls, d: Mapping) -> BootstrapPlan:
        return cls(int(d["n"]), int(d["B"]), int(d["seed"]))


def replicate_indices(n: int, B: int, seed: int = 0) -> np.ndarray:
    """(B, n) int64 resampling indices of :class:`BootstrapPlan` (n, B, seed) (small n * B only;
    large plans are used through ``BootstrapPlan.chunks``)."""
    return BootstrapPlan(n, B, seed).indices()


def jackknife_groups(n: int, groups: int | None) -> list[np.ndarray]:
    """Contiguous, near-equal groups of range(n) for a grouped jackknife (all n singletons if
    ``groups`` is None or >= n); deterministic, so every cell with the same n uses the same."""
    g = n if groups is None else max(2, min(int(groups), n))
    return list(np.array_split(np.arange(n), g))


def influence_from_jackknife(theta_loo: np.ndarray) -> np.ndarray:
    """Jackknife influence values U_g = (G - 1) (mean(theta_(.)) - theta_(g)) from leave-one-out
    (or leave-one-group-out) estimates; BCa's acceleration uses them."""
    t = np.asarray(theta_loo, np.float64)
    return (len(t) - 1) * (t.mean() - t)


def acceleration(influence: np.ndarray | None) -> float:
    """BCa acceleration a = sum U^3 / (6 (sum U^2)^{3/2}) (Efron 1987), 0 without influence values."""
    if influence is None:
        return 0.0
    u = np.asarray(influence, np.float64)
    u = u - u.mean()
    s2 = float(np.sum(u * u))
    return 0.0 if s2 <= 0 or not math.isfinite(s2) else float(np.sum(u**3) / (6.0 * s2**1.5))


# -- replicates of one metric in one cell ---------------------------------------------------------
@dataclass
class Replicates:
    """A metric of one cell on the B replicates of a plan.

    ``estimate``: the metric on the actual samples. ``values``: (B,) the metric on each replicate.
    ``influence``: empirical influence (or jackknife) values over the plan's units or over
    :func:`jackknife_groups` (BCa; paired BCa needs both cells' on the same groups). ``truth``: the
    value the estimator targets in the bootstrap world (basic intervals pivot on it; None: the
    estimate itself, right for unbiased estimators). ``kind``: how the replicates were computed.
    """

    estimate: float
    values: np.ndarray
    plan: BootstrapPlan
    influence: np.ndarray | None = None
    truth: float | None = None
    kind: str = ""

    def __post_init__(self):
        self.values = np.asarray(self.values, np.float64).reshape(-1)
        if len(self.values) != self.plan.B:
            raise InvalidInputError(f"{len(self.values)} replicate values for a plan with B={self.plan.B}")
        if self.influence is not None:
            self.influence = np.asarray(self.influence, np.float64).reshape(-1)

    def interval(self, method: str | None = None, level: float = DEFAULT_LEVEL) -> Interval:
        """The interval by ``method`` (None: the default for this kind, :data:`DEFAULT_METHODS`)."""
        method = method or default_method(self.kind)
        return bootstrap_interval(self.estimate, self.values, method=method, level=level, influence=self.influence,
                                  truth=self.truth, plan=self.plan)

    def __sub__(self, other: Replicates) -> Replicates:
        """The paired difference self - other, replicate by replicate (same plan required)."""
        if not isinstance(other, Replicates):
            return NotImplemented
        if self.plan != other.plan:
            raise InvalidInputError(f"paired difference needs the same resampling plan, got ({self.plan.label}) and "
                                    f"({other.plan.label}): cells from different noise or sample counts do not pair")
        infl = None
        if self.influence is not None and other.influence is not None:
            if self.influence.shape != other.influence.shape:
                raise InvalidInputError(f"influence values over {len(self.influence)} and {len(other.influence)} "
                                        "groups do not pair")
            infl = self.influence - other.influence
        truth = None
        if self.truth is not None or other.truth is not None:
            truth = (self.estimate if self.truth is None else self.truth) - \
                (other.estimate if other.truth is None else other.truth)
        kind = self.kind if self.kind == other.kind else f"difference of {self.kind or '?'} and {other.kind or '?'}"
        return Replicates(self.estimate - other.estimate, self.values - other.values, self.plan, infl, truth, kind)

    def to_dict(self) -> dict:
        """Numbers and strings only (JSON-ready lists)."""
        return {"estimate": float(self.estimate), "values": self.values.tolist(), "plan": self.plan.to_dict(),
                "influence": None if self.influence is None else self.influence.tolist(),
                "truth": None if self.truth is None else float(self.truth), "kind": self.kind}

    @classmethod
    def from_dict(cls, d: Mapping) -> Replicates:
        return cls(float(d["estimate"]), np.asarray(d["values"], np.float64), BootstrapPlan.from_dict(d["plan"]),
                   None if d.get("influence") is None else np.asarray(d["influence"], np.float64),
                   d.get("truth"), str(d.get("kind", "")))


def mean_replicates(values, plan: BootstrapPlan, *, chunk: int = 256) -> Replicates:
    """Replicates of the mean of per-sample values (n,) (ref_rmse, psnr, lpips, ...): replicate b is
    sum_i c_bi v_i / n with c_b the plan's counts. Influence values: v_i - mean(v) (exact), so the
    per-sample values themselves are kept too (influence + estimate)."""
    v = _per_sample(values, plan.n)
    out = np.empty(plan.B)
    for start, c in plan.chunks(chunk):
        out[start:start + len(c)] = c @ v / plan.n
    return Replicates(float(v.mean()), out, plan, v - v.mean(), None, "mean")


def _per_sample(values, n: int) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    v = np.asarray(values, np.float64).reshape(-1)
    if len(v) != n:
        raise InvalidInputError(f"{len(v)} per-sample values for a resampling plan over n={n} samples")
    return v


# -- intervals -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A confidence interval [lo, hi] for the metric whose value on the actual samples is ``estimate``
    (biased statistics: the interval need not contain it, docs); ``method`` one of :data:`METHODS`
    (bootstrap) or t (across seeds); ``n`` units (bootstrap) or seeds (t)."""

    estimate: float
    lo: float
    hi: float
    level: float
    method: str
    n: int
    B: int | None = None
    seed: int | None = None

    def contains(self, value: float) -> bool:
        return bool(self.lo <= value <= self.hi)

    @property
    def label(self) -> str:
        pct = f"{100 * self.level:g}%"
        if self.method == "t":
            return f"t {pct}, {self.n} seeds"
        return f"{self.method} {pct}, B={self.B}, seed {self.seed}, n={self.n}"

    def columns(self, metric: str) -> dict:
        """The row columns ``<metric>_lo``, ``<metric>_hi`` and ``<metric>_ci`` (how)."""
        return {f"{metric}_lo": self.lo, f"{metric}_hi": self.hi, f"{metric}_ci": self.label}


def _z(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def _phi(z: float) -> float:
    from scipy.stats import norm

    return float(norm.cdf(z))


def bca_levels(estimate: float, values: np.ndarray, alphas: Sequence[float], a: float) -> list[float]:
    """BCa-adjusted quantile levels (Efron 1987): Phi(z0 + (z0 + z_alpha) / (1 - a (z0 + z_alpha)))
    with z0 = Phi^-1(share of replicates below the estimate, ties counted half), kept within
    [0.5/B, 1 - 0.5/B]."""
    B = len(values)
    below = (np.sum(values < estimate) + 0.5 * np.sum(values == estimate)) / B
    z0 = _z(min(max(below, 0.5 / B), 1 - 0.5 / B))
    out = []
    for alpha in alphas:
        w = z0 + _z(alpha)
        denom = 1 - a * w
        out.append(_phi(z0 + w / denom) if denom > 0 else (1.0 if w > 0 else 0.0))
    return out


def bootstrap_interval(estimate: float, values, *, method: str = "percentile", level: float = DEFAULT_LEVEL,
                       influence=None, truth: float | None = None, plan: BootstrapPlan | None = None) -> Interval:
    """Interval from replicate values.

    * ``percentile``: the alpha/2 and 1 - alpha/2 quantiles of the replicates;
    * ``basic``: the pivot estimate - truth is distributed as replicate - truth*:
      [estimate - (q_hi - t), estimate - (q_lo - t)], t = ``truth`` (default: the estimate);
    * ``bca``: percentile at BCa-adjusted levels (:func:`bca_levels`); needs ``influence``;
    * ``centred``: the percentile interval moved by the bootstrap's bias estimate, so that the
      replicates' mean sits on the estimate: [q_lo - (m - estimate), q_hi - (m - estimate)], m the
      mean replicate; an interval for E[estimate], the value the statistic takes on average at this
      sample size (for a biased statistic such as FD_N, not the population value).
    Quantiles are numpy's default (linear interpolation between order statistics). Non-finite
    replicates (psnr of identical images) propagate to the bounds."""
    level = _check_level(level)
    v = np.asarray(values, np.float64).reshape(-1)
    if method not in METHODS:
        raise InvalidInputError(f"interval method must be one of {', '.join(METHODS)}, got {method!r}")
    if len(v) == 0:
        raise InvalidInputError("no replicate values")
    alpha = 1 - level
    n = plan.n if plan is not None else (len(influence) if influence is not None else 0)
    B, seed = (plan.B, plan.seed) if plan is not None else (len(v), None)
    if np.isnan(v).any() or not math.isfinite(estimate):
        return Interval(float(estimate), math.nan, math.nan, level, method, n, B, seed)
    if method == "percentile":
        lo, hi = np.quantile(v, [alpha / 2, 1 - alpha / 2])
    elif method == "basic":
        t = estimate if truth is None else truth
        q_lo, q_hi = np.quantile(v, [alpha / 2, 1 - alpha / 2])
        lo, hi = estimate - (q_hi - t), estimate - (q_lo - t)
    elif method == "centred":
        shift = float(v.mean()) - estimate if np.isfinite(v).all() else 0.0
        lo, hi = np.quantile(v, [alpha / 2, 1 - alpha / 2]) - shift
    else:
        if influence is None:
            raise InvalidInputError("a bca interval needs influence (or jackknife) values")
        p_lo, p_hi = bca_levels(estimate, v, [alpha / 2, 1 - alpha / 2], acceleration(influence))
        lo, hi = np.quantile(v, [p_lo, p_hi])
    return Interval(float(estimate), float(lo), float(hi), level, method, n, B, seed)


def t_interval(values, level: float = DEFAULT_LEVEL) -> Interval:
    """Mean across seeds with a Student-t interval: mean +- t_{s-1, 1-alpha/2} sd / sqrt(s).
    With a single seed the bounds are NaN (no spread to estimate)."""
    from scipy.stats import t as student_t

    level = _check_level(level)
    v = np.asarray(values, np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        raise InvalidInputError("t interval: no finite values")
    m = float(v.mean())
    if len(v) < 2:
        return Interval(m, math.nan, math.nan, level, "t", len(v))
    half = float(student_t.ppf(1 - (1 - level) / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return Interval(m, m - half, m + half, level, "t", len(v))


# -- paired comparisons ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Paired difference a - b with its interval and two-sided bootstrap p-value (H0: no difference)."""

    a: str
    b: str
    interval: Interval
    p_value: float

    @property
    def difference(self) -> float:
        return self.interval.estimate


def paired_p_value(diff: Replicates, method: str | None = None) -> float:
    """Two-sided p-value of H0 "difference = 0", dual to the interval of the same ``method``: the
    smallest alpha at which the equal-tailed (1 - alpha) interval excludes 0.

    percentile: with k_lo = #{replicates <= 0}, k_hi = #{replicates >= 0} and the usual +1
    (Davison & Hinkley 1997), p = min(1, 2 min(1 + k_lo, 1 + k_hi) / (B + 1)); basic: the same with
    k_lo = #{replicate - truth <= estimate}, k_hi = #{replicate - truth >= estimate} (where the
    estimate falls in the bootstrap null distribution);
    bca: the share F = (k_lt + k_eq / 2) / B (within [1/(B+1), B/(B+1)]) is mapped back through the
    BCa level formula: z = w - z0 with w = (z_F - z0) / (1 + a (z_F - z0)), p = min(1, 2 min(Phi(z),
    1 - Phi(z))); centred: the percentile rule on the replicates moved by the bootstrap bias
    estimate (as the interval). Identical cells (all replicates 0) give p = 1. p is never below 2 / (B + 1), the
    resolution of B replicates (such a p says: no replicate on the other side of 0)."""
    method = method or default_method(diff.kind)
    v, B = diff.values, len(diff.values)
    if np.isnan(v).any() or not math.isfinite(diff.estimate):
        return math.nan
    if method == "centred":  # the percentile test on the replicates moved to centre on the estimate
        v = v - (float(v.mean()) - diff.estimate)
        method = "percentile"
    if method == "percentile":  # where 0 falls among the replicates
        k_lo, k_hi = np.sum(v <= 0), np.sum(v >= 0)
        p = 2 * min((1 + k_lo) / (B + 1), (1 + k_hi) / (B + 1))
    elif method == "basic":  # where the estimate falls in the null distribution replicate - truth
        centred = v - (diff.estimate if diff.truth is None else diff.truth)
        k_lo, k_hi = np.sum(centred <= diff.estimate), np.sum(centred >= diff.estimate)
        p = 2 * min((1 + k_lo) / (B + 1), (1 + k_hi) / (B + 1))
    elif method == "bca":
        if diff.influence is None:
            raise InvalidInputError("a bca p-value needs influence (or jackknife) values")
        if not np.any(v != 0):
            return 1.0
        share = (np.sum(v < 0) + 0.5 * np.sum(v == 0)) / B
        share = min(max(share, 1 / (B + 1)), B / (B + 1))
        below = (np.sum(v < diff.estimate) + 0.5 * np.sum(v == diff.estimate)) / B
        z0 = _z(min(max(below, 0.5 / B), 1 - 0.5 / B))
        a = acceleration(diff.influence)
        d = _z(share) - z0
        w = d / (1 + a * d) if 1 + a * d > 0 else math.copysign(math.inf, d)
        one = _phi(w - z0)
        p = 2 * min(one, 1 - one)
    else:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    # B replicates cannot resolve a two-sided p below 2 / (B + 1)
    return float(min(1.0, max(p, 2 / (B + 1))))


def wald_p_value(diff: Replicates) -> float:
    """Two-sided p-value of H0 "difference = 0" from the bootstrap standard error: z = estimate / sd of
    the replicates, p = 2 (1 - Phi(|z|)). Not limited to the 2 / (B + 1) resolution of the bootstrap
    p-values, so many pairs can be Holm-adjusted (see :func:`rank_with_groups`)."""
    v = diff.values
    if np.isnan(v).any() or not math.isfinite(diff.estimate):
        return math.nan
    se = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    if se == 0.0:
        return 1.0 if diff.estimate == 0 else 0.0
    return float(min(1.0, 2 * (1 - _phi(abs(diff.estimate) / se))))


def compare(a: Replicates, b: Replicates, *, names: tuple[str, str] = ("a", "b"), method: str | None = None,
            level: float = DEFAULT_LEVEL) -> Comparison:
    """Paired comparison of two cells on the same plan: interval of a - b and its p-value (method
    None: the default of the cells' kind)."""
    diff = a - b
    return Comparison(names[0], names[1], diff.interval(method, level), paired_p_value(diff, method))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control), in the input order."""
    p = np.asarray(p_values, np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def compact_letters(names: Sequence[str], different: set[frozenset[str]]) -> dict[str, str]:
    """Compact letter display (Piepho 2004, insert-absorb): two names share a letter iff they are
    not in ``different``. ``names`` in ranking order; letters are assigned in that order ('a' holds
    the first name)."""
    columns: list[set[str]] = [set(names)]
    for pair in sorted(different, key=lambda p: sorted(names.index(x) for x in p)):
        i, j = tuple(pair)
        split = []
        for col in columns:
            if i in col and j in col:
                split += [col - {i}, col - {j}]
            else:
                split.append(col)
        # absorb: drop empty columns and those contained in another
        split = [c for c in split if c]
        kept: list[set[str]] = []
        for k, col in enumerate(split):
            if any(col < other or (col == other and m < k) for m, other in enumerate(split) if m != k):
                continue
            kept.append(col)
        columns = kept
    pos = {name: k for k, name in enumerate(names)}
    columns.sort(key=lambda c: sorted(pos[x] for x in c))
    letters = "abcdefghijklmnopqrstuvwxyz"
    tag = [letters[k] if k < 26 else f"<{k}>" for k in range(len(columns))]
    return {name: "".join(tag[k] for k, col in enumerate(columns) if name in col) for name in names}


def rank_with_groups(cells: Mapping[str, Replicates], *, lower_is_better: bool = True, method: str | None = None,
                     level: float = DEFAULT_LEVEL) -> list[dict]:
    """Rank samplers of one (model, NFE, noise) by their estimate and group the statistically
    indistinguishable ones.

    All pairs are compared with the paired bootstrap (:func:`compare`), their p-values Holm-adjusted
    over the m (m - 1) / 2 pairs (Wald p-values from the bootstrap standard error when the pairs are too
    many for the bootstrap p-values' 2 / (B + 1) floor to survive the adjustment), and pairs with
    adjusted p < 1 - level are "different"; the groups
    are the compact letter display of that relation (samplers sharing a letter are not
    distinguishable). Rows, best first: rank, name, estimate, lo, hi, letters, p_vs_best (Holm),
    with_best (shares a letter with the best)."""
    if not cells:
        return []
    sign = 1.0 if lower_is_better else -1.0
    names = sorted(cells, key=lambda k: (sign * cells[k].estimate if math.isfinite(cells[k].estimate) else math.inf, k))
    pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    comps = {p: compare(cells[p[0]], cells[p[1]], names=p, method=method, level=level) for p in pairs}
    B = min(len(c.values) for c in cells.values())
    # Holm multiplies the smallest p by the number of pairs; a bootstrap p cannot go below 2 / (B + 1),
    # so with many pairs (19 samplers: 171) no pair could ever differ. Then the p-values come from the
    # bootstrap standard error of each paired difference (Wald), which has no such floor.
    wald = len(pairs) * 2 / (B + 1) >= 1 - level
    raw = [wald_p_value(cells[p[0]] - cells[p[1]]) if wald else comps[p].p_value for p in pairs]
    adj = holm([v if math.isfinite(v) else 1.0 for v in raw])
    adjusted = dict(zip(pairs, adj))
    alpha = 1 - level
    different = {frozenset(p) for p in pairs if adjusted[p] < alpha}
    letters = compact_letters(names, different)
    best = names[0]
    rows = []
    for rank, name in enumerate(names, 1):
        iv = cells[name].interval(method, level)
        p_best = 1.0 if name == best else float(adjusted[(best, name)])
        rows.append({"rank": rank, "name": name, "estimate": iv.estimate, "lo": iv.lo, "hi": iv.hi,
                     "letters": letters[name], "p_vs_best": p_best,
                     "with_best": bool(set(letters[name]) & set(letters[best])),
                     "p_method": "wald" if wald else "bootstrap"})
    return rows


# -- distribution distances (2-D) ------------------------------------------------------------------
def _points(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().to("cpu").double().flatten(1).numpy()
    x = np.asarray(x, np.float64)
    return x.reshape(len(x), -1)


def w2_replicates(x, y, plan: BootstrapPlan, *, method: str = "exact") -> Replicates:
    """Replicates of the exact W2 between samples ``x`` (n = plan.n points, resampled) and the fixed
    held-out ``y`` (uniform weights), as :func:`rfbench.metrics.w2` computes it.

    ``exact``: replicate b solves the OT problem with the resampled points as weights c_bi / n on the
    distinct points (duplicating points gives the same problem); B network-simplex solves.
    ``linear``: one solve; with u the optimal dual potential on the samples (the gradient of W2^2
    with respect to their weights), W2^2_b = W2^2 + sum_i (c_bi / n - 1 / n) u_i (first order; the
    CLT variance of empirical transport costs, del Barrio & Loubes 2019).
    Influence values (BCa): u_i - mean(u), the same for both methods."""
    import ot

    if method not in ("exact", "linear"):
        raise InvalidInputError(f"w2 replicate method must be 'exact' or 'linear', got {method!r}")
    a, b = _points(x), _points(y)
    if len(a) != plan.n:
        raise InvalidInputError(f"{len(a)} samples for a resampling plan over n={plan.n}")
    cost = ot.dist(a, b, metric="sqeuclidean")
    wa, wb = np.full(len(a), 1.0 / len(a)), np.full(len(b), 1.0 / len(b))
    val, log = ot.emd2(wa, wb, cost, numItermax=10_000_000, log=True)
    u = np.asarray(log["u"], np.float64)
    estimate = math.sqrt(max(float(val), 0.0))
    out = np.empty(plan.B)
    if method == "linear":
        for start, c in plan.chunks(256):
            out[start:start + len(c)] = val + (c / plan.n - 1.0 / plan.n) @ u
    else:
        for start, c in plan.chunks(16):
            for row, counts in enumerate(c):
                keep = counts > 0
                out[start + row] = ot.emd2(counts[keep] / plan.n, wb, cost[keep], numItermax=10_000_000)
    out = np.sqrt(np.clip(out, 0.0, None))
    return Replicates(estimate, out, plan, u - u.mean(), None, f"w2-{method}")


def _projections(d: int, n_projections: int, seed: int) -> np.ndarray:
    import ot

    return np.asarray(ot.sliced.get_random_projections(d, n_projections, seed), np.float64)  # (d, P)


def _sliced_sq(xs: np.ndarray, ys: np.ndarray, order: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Mean over projections of the 1-D W2^2 between weighted samples (counts / n) and uniform data.

    Per projection, with the samples sorted (xs, (n, P)), A their cumulative weights and
    Gamma(u) = int_0^u G^-1 for the data's quantile function G^-1 (piecewise linear in u, knots
    at k/m; ys: the data sorted, (m, P)):
    W2^2 = sum_i a_i xs_i^2 + mean(ys^2) - 2 sum_i xs_i (Gamma(A_i) - Gamma(A_{i-1}))."""
    m, P = ys.shape
    gam = np.vstack([np.zeros((1, P)), np.cumsum(ys, 0) / m])        # Gamma at k/m, (m + 1, P)
    cols = np.arange(P)
    w = counts[:, order] / n                                          # (C, n, P), sorted per projection
    A = np.cumsum(w, 1)
    A[:, -1, :] = 1.0
    k = np.minimum((A * m).astype(np.int64), m - 1)
    g = gam[k, cols] + (A - k / m) * ys[k, cols]
    inc = np.diff(g, axis=1, prepend=0.0)
    total = np.einsum("cnp,np->c", w, xs**2) - 2 * np.einsum("cnp,np->c", inc, xs) + np.sum(np.mean(ys**2, 0))
    return total / P


def _sliced_influence(xs: np.ndarray, ys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Derivative of the mean 1-D W2^2 with respect to each sample's weight (uniform weights), in the
    samples' original order: d/da_j = xs_j^2 - 2 sum_{i >= j} (xs_i - xs_{i+1}) G^-1(A_i) (xs_{n+1} = 0),
    G^-1 taken as the mean of its left and right limits where A_i falls on a knot of the data."""
    n, P = xs.shape
    m = ys.shape[0]
    A = np.arange(1, n + 1) / n
    k = A * m
    right = np.minimum(np.floor(k).astype(np.int64), m - 1)
    left = np.clip(np.ceil(k).astype(np.int64) - 1, 0, m - 1)
    g = (ys[left] + ys[right]) / 2                                     # (n, P)
    step = xs - np.vstack([xs[1:], np.zeros((1, P))])
    tail = np.cumsum((step * g)[::-1], 0)[::-1]
    grad_sorted = xs**2 - 2 * tail
    grad = np.empty_like(grad_sorted)
    np.put_along_axis(grad, order, grad_sorted, 0)
    return grad.mean(1)


def sliced_w2_replicates(x, y, plan: BootstrapPlan, *, n_projections: int = 512, seed: int = 0,
                         method: str = "exact", chunk: int = 4, jackknife: int | None = None) -> Replicates:
    """Replicates of :func:`rfbench.metrics.sliced_w2` (POT's projections for ``seed``).

    ``exact``: the resampled samples enter each 1-D problem as weights, vectorised over replicates
    (cost ~ B n P). ``linear``: SW2^2_b = SW2^2 + sum_i (c_bi / n - 1 / n) psi_i with psi the
    derivative of SW2^2 with respect to the sample weights (:func:`_sliced_influence`); the
    influence values are then psi - mean(psi). ``exact`` takes influence values from a grouped
    jackknife over ``jackknife`` contiguous groups (None: none)."""
    if method not in ("exact", "linear"):
        raise InvalidInputError(f"sw2 replicate method must be 'exact' or 'linear', got {method!r}")
    a, b = _points(x), _points(y)
    if len(a) != plan.n:
        raise InvalidInputError(f"{len(a)} samples for a resampling plan over n={plan.n}")
    proj = _projections(a.shape[1], n_projections, seed)
    xp, yp = a @ proj, np.sort(b @ proj, axis=0)
    order = np.argsort(xp, axis=0, kind="stable")
    xs = np.take_along_axis(xp, order, 0)

    def values(counts: np.ndarray) -> np.ndarray:
        return np.concatenate([np.sqrt(np.clip(_sliced_sq(xs, yp, order, c, plan.n), 0.0, None))
                               for c in np.array_split(counts, max(1, len(counts) // chunk))])

    estimate = float(values(np.ones((1, plan.n)))[0])
    out = np.empty(plan.B)
    if method == "linear":
        psi = _sliced_influence(xs, yp, order)
        for start, c in plan.chunks(256):
            out[start:start + len(c)] = estimate**2 + (c / plan.n - 1.0 / plan.n) @ psi
        return Replicates(estimate, np.sqrt(np.clip(out, 0.0, None)), plan, psi - psi.mean(), None, "sw2-linear")
    for start, c in plan.chunks(64):
        out[start:start + len(c)] = values(c)
    infl = None
    if jackknife:
        groups = jackknife_groups(plan.n, jackknife)
        loo = np.ones((len(groups), plan.n))
        for row, g in enumerate(groups):
            loo[row, g] = 0
        loo *= plan.n / loo.sum(1, keepdims=True)  # the points left in carry all the weight
        infl = influence_from_jackknife(values(loo))
    return Replicates(estimate, out, plan, infl, None, "sw2-exact")


__all__ = ["BootstrapPlan", "Comparison", "DEFAULT_B", "DEFAULT_LEVEL", "DEFAULT_METHODS", "Interval", "METHODS",
           "Replicates", "acceleration", "bca_levels", "bootstrap_interval", "compact_letters", "compare",
           "default_method", "holm", "influence_from_jackknife", "jackknife_groups", "mean_replicates",
           "paired_p_value", "rank_with_groups", "wald_p_value", "replicate_indices", "sliced_w2_replicates", "t_interval",
           "w2_replicates"]
