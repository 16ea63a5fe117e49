"""The one metric registry: every metric column rfbench writes, shows or compares, declared once.

The sweep (which metrics a cell computes, in which order), the result tables and figures, the report,
``rfbench compare`` (published keys) and ``rfbench list metrics`` all read :data:`METRICS`. How a
metric is computed for a cell is registered separately, under the same name, by the runner
(:mod:`rfbench.runner.cell_metrics`); the runner refuses a computation for a name declared here
nowhere, so the two cannot drift apart.

Declaration order is meaningful: it is the column order of the result tables, and the ``lead``
metrics, in this order, are the leading metric columns of results.csv.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInputError
from ..registry import Registry

DIRECTIONS = ("lower", "higher", "none")
KINDS = ("cell", "model", "cost", "count", "published")

# stages of a cell's computation (run_cell runs a suite's metrics in stage order, then suite order)
REFERENCE, HELDOUT, OTHER, TIMING = 0, 1, 2, 4
# (stage 3 is the suite's artifacts, which run after every metric but timing)


@dataclass(frozen=True)
class Metric:
    name: str                         # the results.csv column
    description: str                  # `rfbench list metrics`
    direction: str = "lower"          # "lower" | "higher" is better, "none" (counts, facts)
    unit: str = ""                    # "", "s", "dB", ...
    kind: str = "cell"                # "cell" (per cell), "model" (a model property repeated in its rows),
    #                                   "cost" (seconds), "count" (evaluations), "published" (keys of
    #                                   results/published.csv that rfbench does not compute)
    stage: int = OTHER                # order of computation in run_cell (REFERENCE ... TIMING)
    table: bool = False               # a column of results.md and of the report's result tables
    vs_nfe: bool = False              # a metric-vs-NFE figure (runner outputs and report)
    pareto: int | None = None         # rank among the report's quality-vs-wall-clock figures; None: none
    published_key: str | None = None  # key in results/published.csv (compare); None: not compared
    digits: int = 4                   # significant digits in tables
    writes: tuple[str, ...] = ()      # other columns its computation writes next to the value
    lead: bool = False                # a leading metric column of results.csv (after the cell's identity)
    headline: int | None = None       # rank as the report's headline metric: the first one a model has leads

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise InvalidInputError(f"metric {self.name!r}: direction must be one of {DIRECTIONS}, got "
                                    f"{self.direction!r}")
        if self.kind not in KINDS:
            raise InvalidInputError(f"metric {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def lower_is_better(self) -> bool:
        return self.direction == "lower"


METRICS: Registry[Metric] = Registry("metric")


def register_metric(metric: Metric) -> Metric:
    return METRICS.register(metric.name, metric)


def get_metric(name: str) -> Metric:
    return METRICS.get(name)


def metrics() -> list[Metric]:
    """Every declared metric, in declaration order."""
    return [METRICS.get(n) for n in METRICS]


def metric_digits(name: str | None) -> int:
    return METRICS.get(name).digits if name is not None and name in METRICS else 4


LATENCY_METRIC = "latency_s_per_image"  # derived by compare from wall_clock_s / n_samples of the timed call
_REF = ("ref_nfe", "ref_rtol", "ref_dtype")
for _m in [
    Metric("nfe_measured", "main-network evaluations counted during sampling (a batched call is one)",
           direction="none", kind="count", table=True),
    Metric("nfe_refiner", "FlowTurbo refiner evaluations counted during sampling (not main-network NFE)",
           direction="none", kind="count", table=True),
    Metric("ref_rmse", "solver error: per-sample RMSE to the reference (dopri5, float64) endpoint from "
                       "the same noise, averaged over samples",
           stage=REFERENCE, table=True, vs_nfe=True, pareto=3, writes=_REF, lead=True, headline=2),
    Metric("w2", "exact Wasserstein-2 distance (POT) between samples and held-out data (>= 2000 points)",
           stage=HELDOUT, table=True, vs_nfe=True, pareto=2, writes=("w2_floor",), lead=True, headline=3),
    Metric("sw2", "sliced Wasserstein-2 distance to held-out data (512 projections)",
           stage=HELDOUT, table=True, vs_nfe=True, lead=True),
    Metric("w2_floor", "W2 between two independent held-out data sets: the held-out noise level of w2 (a "
                       "noise level, not a bound; written with w2)", direction="none", kind="model", lead=True),
    Metric("straightness", "Liu et al. 2022 straightness of the model's flow on reference trajectories "
                           "(midpoint rule, 64 points, mean over dimensions); a property of the model",
           kind="model", stage=REFERENCE, writes=_REF, lead=True),
    # image metrics (computed in rfbench.runner.cell_metrics.images; protocol columns: docs/image-metrics.md)
    Metric("fd_digits", "Fréchet distance in the features of rfbench's digits CNN (id and accuracy in the row) "
                        "vs the 360 held-out digits; not an Inception FID",
           table=True, vs_nfe=True, pareto=1, headline=1,
           writes=("fd_digits_extractor", "fd_digits_ref", "fd_digits_ref_n", "fd_digits_n_samples",
                   "digits_classifier_acc")),
    Metric("fid", "Fréchet Inception distance: torch-fidelity inception-v3-compat pool3 2048 on uint8 images "
                  "vs a reference set's cached statistics; only with the published weights file (sha256)",
           table=True, vs_nfe=True, pareto=0, published_key="fid", headline=0,
           writes=("fd_unverified", "fd_unverified_extractor", "precision", "recall", "prc_protocol", "fid_seconds")),
    Metric("precision", "improved precision (torch-fidelity, k = 3) on Inception features (written with fid)",
           direction="higher", table=True, published_key="precision"),
    Metric("recall", "improved recall (torch-fidelity, k = 3) on Inception features (written with fid)",
           direction="higher", table=True, published_key="recall"),
    Metric("fd_unverified", "the FID computation with Inception weights that are not the published file "
                            "(stand-ins, other files): never comparable to FID", table=True),
    Metric("lpips", "LPIPS (lpips package, AlexNet, v0.1) to the reference solution from the same noise, mean "
                    "over lpips_n samples; only with torchvision's published AlexNet weights",
           table=True, vs_nfe=True,
           writes=("lpips_unverified", "lpips_net", "lpips_weights_sha256", "lpips_lin_sha256", "lpips_n",
                   "lpips_resize_rule")),
    Metric("lpips_unverified", "the LPIPS computation with a stand-in / unrecognised AlexNet trunk", table=True),
    Metric("psnr", "PSNR (dB) to the reference solution from the same noise, range 2 ([-1, 1], clamped), mean "
                   "over samples", direction="higher", unit="dB", table=True, vs_nfe=True),
    # computed in rfbench.runner.cell_metrics.inversion
    Metric("inversion_rmse", "inversion error: the cell's samples inverted to noise by the same sampler, NFE "
                             "and reversed grid; per-sample RMSE to the starting noise, averaged",
           table=True, writes=("reconstruction_rmse",)),
    Metric("reconstruction_rmse", "editing round trip: samples regenerated from the inverted noise vs the "
                                  "samples; per-sample RMSE, averaged (written with inversion_rmse)"),
    Metric("wall_clock_s", "sampling time for the whole batch: median over repeats after warm-up, "
                           "device-synchronised (CUDA events on GPU)",
           unit="s", kind="cost", stage=TIMING, table=True, writes=("timing", "wall_clock_spread"), lead=True),
    Metric("calib_s", "one-off calibration / fine-tune time of a sampler (BOSS), apart from wall_clock_s",
           unit="s", kind="cost", table=True),
    Metric("compile_s", "one-off torch.compile time (FlowTurbo), apart from wall_clock_s",
           unit="s", kind="cost", table=True),
    Metric("ref_nfe", "evaluations of the reference solve (written with ref_rmse / straightness)",
           direction="none", kind="model"),
    # keys of results/published.csv that rfbench does not compute; compare derives latency_s_per_image
    # from wall_clock_s / n_samples of the timed call
    Metric("is", "Inception score (published numbers only)", direction="higher", kind="published",
           published_key="is"),
    Metric("clip_score", "CLIP score (published numbers only)", direction="higher", kind="published",
           published_key="clip_score"),
    Metric(LATENCY_METRIC, "sampling latency per image: wall_clock_s / n_samples (compare)", unit="s/img",
           kind="published", published_key=LATENCY_METRIC),
]:
    register_metric(_m)


def table_metrics() -> list[str]:
    return [m.name for m in metrics() if m.table]


def vs_nfe_metrics() -> list[str]:
    return [m.name for m in metrics() if m.vs_nfe]


def pareto_metrics() -> list[str]:
    return [m.name for m in sorted((m for m in metrics() if m.pareto is not None), key=lambda m: m.pareto)]


def headline_metrics() -> list[str]:
    """Candidates for a model's headline metric, best first: distribution distances of images (what
    papers lead with), then the solver error, then 2-D distances."""
    return [m.name for m in sorted((m for m in metrics() if m.headline is not None), key=lambda m: m.headline)]


def lead_metrics() -> list[str]:
    return [m.name for m in metrics() if m.lead]


def model_metrics() -> list[str]:
    """Model properties repeated in each of the model's rows (shown once per model in tables)."""
    return [m.name for m in metrics() if m.kind == "model"]


def published_keys() -> dict[str, str]:
    """results.csv column -> published metric key (latency is derived, not a column: LATENCY_METRIC)."""
    return {m.name: m.published_key for m in metrics() if m.published_key and m.name != LATENCY_METRIC}


__all__ = ["LATENCY_METRIC", "METRICS", "Metric", "get_metric", "headline_metrics", "lead_metrics", "metric_digits", "metrics", "model_metrics",
           "pareto_metrics", "published_keys", "register_metric", "table_metrics", "vs_nfe_metrics"]
