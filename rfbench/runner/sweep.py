"""The sweep: run a suite's cells, one result row per cell, persisted as each cell finishes.

Shared, expensive per-model work (loading or training the model, the reference solution per
seed, the model's straightness, held-out data) is done once per process by :class:`SweepContext`
and reference solutions are also cached on disk.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import torch

from .. import cache, progress as _progress
from ..errors import InvalidInputError, NotApplicableError, ResourceError, RFBenchError, resource_cause
from ..identity import CannotFingerprint, canonical, code_identity
from ..metrics import midpoint_times, straightness_from_trajectory, w2
from ..metrics.registry import METRICS, TIMING
from ..models import get_model, model_identity
from ..models.base import FlowModel
from ..samplers import GRIDS, get_sampler, reference_solution
from . import cell_metrics  # noqa: F401  (registers the per-cell metrics run_cell looks up)
from .environment import code_hash, environment
from .distributed import split_sample
from .hooks import ARTIFACTS, CELL_METRICS, add_note
from .intervals import DEFAULT_SETTINGS, IntervalSettings, add_cell_intervals, split_row
from .records import CellStore, cell_config_hash
from .suite import Cell, ModelSpec, Suite

REFERENCE_VERSION = 1  # bump when the reference procedure changes
HELDOUT_SEED = 10_000  # held-out data are drawn with this seed (training sets use others)
MAX_DIM_W2 = 16  # exact W2 / sliced W2 only for low-dimensional data; images get their own metrics



def parse_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"--device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidInputError(f"--device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"--device {device!r} requested but CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        raise InvalidInputError(f"--device {device!r}: this machine has {n} CUDA device(s), expected cuda:0"
                                + (f" to cuda:{n - 1}" if n > 1 else ""))
    return dev


class SweepContext:
    """Per-process memo of models, noise, references and data for one configured suite."""

    def __init__(self, suite: Suite, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 progress: bool = True, out_dir: str | Path | None = None,
                 intervals: IntervalSettings = DEFAULT_SETTINGS):
        self.suite = suite
        self.intervals = intervals  # bootstrap settings of the error bars (runner/intervals.py)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.memo: dict = {}  # for hooks: per-process state (feature extractors, reference statistics)
        self.device = parse_device(device)
        self.dtype = dtype
        self.progress = progress
        self._models: dict[ModelSpec, FlowModel] = {}
        self._identities: dict[Any, tuple[str | None, str | None]] = {}
        self._refs: dict[tuple[ModelSpec, int], dict] = {}
        self._data: dict[ModelSpec, tuple[torch.Tensor, torch.Tensor] | None] = {}
        self._floor: dict[ModelSpec, float | None] = {}
        self.timing: tuple | None = None  # run_cell: (the cell's sampling call, seconds of its first draw)

    # -- models ------------------------------------------------------------------------------------
    def dtype_for(self, spec: ModelSpec) -> torch.dtype:
        """The dtype ``spec``'s cells run in: the suite's ``dtype_by_model`` entry, else the run's."""
        name = self.suite.dtype_by_model.get(spec.label)
        if name is None:
            return self.dtype
        dtype = getattr(torch, str(name), None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise InvalidInputError(f"suite {self.suite.name!r}: dtype_by_model[{spec.label!r}] = {name!r} is not a "
                                    "torch floating-point dtype (e.g. 'float64')")
        return dtype

    def model(self, spec: ModelSpec) -> FlowModel:
        if spec not in self._models:
            model = get_model(spec.name, data=spec.data, progress=self.progress, **dict(spec.options))
            self._models[spec] = model.to(device=self.device, dtype=self.dtype_for(spec)).eval()
        return self._models[spec]

    def identity(self, key: Any, compute) -> tuple[str | None, str | None]:
        """``(hash, None)`` or ``(None, reason)``: ``compute()`` memoised per process under ``key`` (a
        model, sampler, grid or hook is identified once per sweep; it must not change while one runs)."""
        if key not in self._identities:
            try:
                self._identities[key] = (compute(), None)
            except CannotFingerprint as exc:
                self._identities[key] = (None, str(exc))
        return self._identities[key]

    def model_identity(self, spec: ModelSpec) -> tuple[str | None, str | None]:
        def compute() -> str:
            try:
                return model_identity(spec.name, data=spec.data, build=lambda: self.model(spec),
                                      progress=self.progress, **dict(spec.options))
            except CannotFingerprint as exc:
                raise CannotFingerprint(f"model {spec.label!r}: {exc}") from None

        return self.identity(("model", spec), compute)

    def noise(self, spec: ModelSpec, seed: int) -> torch.Tensor:
        """The suite's prior noise for ``seed``: float64 on the CPU (identical on every device)."""
        model = self.model(spec)
        return model.sample_prior(self.suite.n_samples, seed=seed, dtype=torch.float64, device="cpu")

    # -- reference solution and straightness -----------------------------------------------------
    def reference(self, spec: ModelSpec, seed: int) -> dict:
        key = (spec, seed)
        if key not in self._refs:
            model = self.model(spec)
            ref_dtype = getattr(torch, self.suite.reference_dtype)
            tol = self.suite.reference_tol

            def build() -> dict:
                _progress.announce(f"reference solve for {spec.label}, seed {seed}: dopri5 at rtol {tol:g} in {ref_dtype} "
                                   f"on {self.suite.n_samples} samples", show=self.progress)
                noise = self.noise(spec, seed).to(self.device)
                sol = reference_solution(model, noise, rtol=tol, atol=tol, dtype=ref_dtype, times=midpoint_times(model))
                ref_model = model.in_dtype(ref_dtype)
                s = straightness_from_trajectory(ref_model, sol.times[1:-1], sol.states[1:-1], sol.states[0],
                                                 sol.x_end)
                return {"x_end": sol.x_end.cpu(), "nfe": sol.nfe, "seconds": sol.seconds, "straightness": s,
                        "rtol": sol.rtol}

            # keyed by the model's content (weights, a function's code and closure), not its name
            fingerprint = model.fingerprint()
            if fingerprint is None:  # not identifiable: solved in this process only, never shared on disk
                self._refs[key] = {**build(), "not_cached": model.cannot_fingerprint()}
            else:
                cfg = {"model": fingerprint, "seed": seed, "n": self.suite.n_samples, "rtol": tol, "atol": tol,
                       "dtype": str(ref_dtype), "k": 64, "v": REFERENCE_VERSION}
                path = cache.cache_file("references", f"{model.name}-{cache.config_hash(cfg)}.pt")
                self._refs[key], _ = cache.cached(path, build)
        return self._refs[key]

    # -- held-out data for distribution distances --------------------------------------------------
    def heldout(self, spec: ModelSpec) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Two independent held-out data sets (the second gives the W2 noise floor), or None."""
        if spec not in self._data:
            model = self.model(spec)
            gen = torch.Generator().manual_seed(HELDOUT_SEED)
            first = model.sample_data(self.suite.n_data, generator=gen)
            second = model.sample_data(self.suite.n_data, generator=gen) if first is not None else None
            ok = first is not None and first[0].numel() <= MAX_DIM_W2
            self._data[spec] = (first, second) if ok else None
        return self._data[spec]

    def w2_floor(self, spec: ModelSpec) -> float | None:
        if spec not in self._floor:
            data = self.heldout(spec)
            self._floor[spec] = w2(*data) if data is not None and "w2" in self.suite.metrics else None
        return self._floor[spec]


def _base_row(cell: Cell, ctx: SweepContext) -> dict[str, Any]:
    env = environment(str(ctx.device))
    return {
        "suite": cell.suite, "model": cell.model.name, "data": cell.model.data, "sampler": cell.sampler,
        "nfe": cell.nfe, "status": "ok", "reason": "", "n_samples": ctx.suite.n_samples, "seed": cell.seed,
        "device": str(ctx.device), "dtype": str(ctx.dtype_for(cell.model)).replace("torch.", ""), **env,
    }


def run_cell(ctx: SweepContext, cell: Cell) -> dict[str, Any]:
    """Run one cell and return its row. Failures (bad input, non-finite samples, errors) become a
    row with status "failed" and the reason; they never stop the sweep."""
    row = _base_row(cell, ctx)
    suite = ctx.suite
    try:
        model = ctx.model(cell.model)
        if row["data"] is None:
            row["data"] = getattr(model, "dataset", None)
        spec = get_sampler(cell.sampler)
        options = dict(suite.sampler_options.get(cell.sampler, {}))
        noise = ctx.noise(cell.model, cell.seed).to(device=ctx.device, dtype=ctx.dtype_for(cell.model))

        def draw():  # under torchrun the samples are split by index over the ranks
            return split_sample(model, spec, cell.nfe, noise=noise, batch_size=suite.batch_size, **options)

        start = time.perf_counter()
        result = draw()
        first_s = time.perf_counter() - start
        row.update({"grid": result.grid or options.get("grid", spec.default_grid), "nfe_measured": result.nfe_measured})
        row.update({k: v for k, v in result.info.items() if isinstance(v, (int, float, str, bool)) or v is None})
        if result.nfe_expected is not None and result.nfe_expected != result.nfe_measured:
            raise AssertionError(f"sampler {spec.name!r} made {result.nfe_measured} evaluations but planned "
                                 f"{result.nfe_expected}")
        x = result.x
        bad = (~torch.isfinite(x.flatten(1)).all(1)).sum().item()
        if bad:
            row.update(status="failed", reason=f"non-finite samples: {bad} of {len(x)}")
            return row
        # the suite's metrics in stage order (suite order within a stage), its artifacts before timing
        ctx.timing = (draw, first_s)
        if cell.metrics is not None:
            add_note(row, f"convergence tail: only {', '.join(cell.metrics)} at this NFE")
        metrics = sorted(cell.metrics or suite.metrics, key=lambda name: METRICS.get(name).stage)
        for name in [m for m in metrics if METRICS.get(m).stage < TIMING]:
            CELL_METRICS.get(name)(ctx, cell, result, row)
        add_cell_intervals(ctx, cell, result, row)  # <metric>_lo/_hi/_ci, and replicates for the record
        for name in suite.artifacts if cell.metrics is None else ():
            ARTIFACTS.get(name)(ctx, cell, result, row)
        for name in [m for m in metrics if METRICS.get(m).stage >= TIMING]:
            CELL_METRICS.get(name)(ctx, cell, result, row)
    except NotApplicableError as exc:
        row.update(status="not-applicable", reason=str(exc))
    except ResourceError:
        raise
    except RFBenchError as exc:
        row.update(status="failed", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken cell must not cost the others
        cause = resource_cause(exc)
        if cause is not None:  # the machine's failure, not the cell's: never recorded as the cell's result
            raise ResourceError(cause) from exc
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})")
    return row


def cell_hash(cell: Cell, ctx: SweepContext) -> tuple[str | None, str | None]:
    """``(hash, None)`` of everything the cell's numbers depend on (the cell, the model's and sampler's
    identity, the user code it runs: grids and metric hooks, the suite's settings, device, dtype), or
    ``(None, reason)`` where some part cannot be fingerprinted: such a cell is never reused."""
    model_id, why = ctx.model_identity(cell.model)
    if why:
        return None, why
    spec = get_sampler(cell.sampler)
    sampler_id, why = ctx.identity(("sampler", cell.sampler, id(spec)), spec.identity)
    if why:
        return None, f"sampler {cell.sampler!r}: {why}"
    options = ctx.suite.sampler_options.get(cell.sampler, {})
    code = {}
    grids = {g for g in (options.get("grid"), spec.default_grid) if isinstance(g, str) and g in GRIDS}
    hooks = [("grid", g, GRIDS.get(g)) for g in sorted(grids)]
    hooks += [("metric", m, CELL_METRICS.get(m)) for m in ctx.suite.metrics if m in CELL_METRICS]
    hooks += [("artifact", a, ARTIFACTS.get(a)) for a in ctx.suite.artifacts if a in ARTIFACTS]
    for kind, name, fn in hooks:
        code[f"{kind}:{name}"], why = ctx.identity((kind, name, id(fn)), lambda fn=fn: code_identity(fn))
        if why:
            return None, f"{kind} {name!r}: {why}"
    try:
        settings = canonical(ctx.suite.settings())
        if ctx.intervals.enabled:  # the error bars' settings change the stored numbers
            settings["intervals"] = ctx.intervals.to_dict()
        cell_dict = {"suite": cell.suite, "model": canonical(cell.model.as_dict()), "sampler": cell.sampler,
                     "nfe": cell.nfe, "seed": cell.seed, "model_identity": model_id, "sampler_identity": sampler_id,
                     "code": code}
        if cell.metrics is not None:  # only then, so the suites' other cells keep their record hashes
            cell_dict["metrics"] = list(cell.metrics)
    except CannotFingerprint as exc:
        return None, f"suite settings: {exc}"
    return cell_config_hash(cell_dict, settings, str(ctx.device), str(ctx.dtype_for(cell.model))), None


def execute_cell(ctx: SweepContext, store: CellStore, cell: Cell, *, force: bool = False) -> tuple[dict, bool]:
    """Run ``cell`` unless a fresh record exists; persist the row; return (row, was_computed).

    Raises :class:`~rfbench.errors.ResourceError` (nothing recorded) when the machine, not the cell,
    failed: a full disk, an unusable folder, out of memory."""
    try:
        h, why = cell_hash(cell, ctx)
    except (ResourceError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - building the model failed: run_cell records why
        cause = resource_cause(exc)
        if cause is not None:
            raise ResourceError(_stopped(cell, cause)) from exc
        h, why = None, None
    code = code_hash()
    if not force and h is not None:
        rec = store.fresh(cell.key, h, code)
        if rec is not None:
            return rec["row"], False
    start = time.perf_counter()
    try:
        row = run_cell(ctx, cell)
    except ResourceError as exc:
        raise ResourceError(_stopped(cell, str(exc))) from exc
    if why and "not cached:" not in (row.get("notes") or ""):  # once per row (the reference may have said it)
        add_note(row, f"not cached: {why}")
    row["cell_seconds"] = time.perf_counter() - start
    row, replicates = split_row(row)  # replicate vectors go into the record, not the row
    try:
        store.save(cell.key, h, code, row, replicates=replicates)
    except OSError as exc:
        raise ResourceError(_stopped(cell, resource_cause(exc))) from exc
    return row, True


def _stopped(cell: Cell, cause: str) -> str:
    return (f"{cause} (while running cell {cell.id}: the machine's failure, not the cell's, so nothing was recorded "
            "for it; finished cells are kept and a rerun resumes)")


def sweep(suite: Suite, out_dir: str | Path, *, device: str = "cpu", force: bool = False,
          progress: bool = True, shard: tuple[int, int] | None = None,
          claim_timeout: float | None = None, wait: bool = True,
          intervals: IntervalSettings = DEFAULT_SETTINGS) -> tuple[list[dict], dict]:
    """Run every cell of a configured suite (or this worker's share of them, see
    :mod:`rfbench.runner.workers`); returns (rows in cell order, summary counts).

    The cache and output folders are tested once before the first cell. A
    :class:`~rfbench.errors.ResourceError` (full disk, out of memory, ...) stops the sweep: the cells
    finished so far keep their records, the one it hit gets none."""
    cache.check_usable()
    ctx = SweepContext(suite, device=device, progress=progress, out_dir=out_dir, intervals=intervals)
    store = CellStore(out_dir)
    # claims let many workers (processes, shards, torchrun ranks) share the store
    from .workers import run_cells

    return run_cells(ctx, store, suite.cells(), execute_cell, cell_hash, force=force, shard=shard,
                     claim_timeout=claim_timeout, wait=wait, progress=progress)

