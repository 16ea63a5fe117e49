"""Suite definitions (models x samplers x NFE x seeds, and the cells they expand into) and the suite
registry. The built-in suites live in :mod:`rfbench.suites`, which registers them here; the entry layer
(``rfbench.run_suite``, the CLI, the pytest plugin) imports it before looking a suite up by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from ..registry import Registry

MAX_SEED = 2**63 - 1  # seeds fit a signed 64-bit integer (torch's and numpy's generators take them)


@dataclass(frozen=True)
class ModelSpec:
    """A model of a suite: registry name, dataset (trained models) and factory options."""

    name: str
    data: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return self.name if self.data is None else f"{self.name}@{self.data}"

    def as_dict(self) -> dict:
        return {"name": self.name, "data": self.data, "options": dict(self.options)}

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """``name`` or ``name@dataset`` (as typed after ``--models``)."""
        name, _, data = text.strip().partition("@")
        return cls(name, data or None)


@dataclass(frozen=True)
class Cell:
    """One measurement: a model, a sampler, a requested NFE (None for adaptive samplers), a seed."""

    suite: str
    model: ModelSpec
    sampler: str
    nfe: int | None
    seed: int
    # the metrics this cell computes, where not all the suite's: the convergence tail (Suite.order_nfe)
    metrics: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        """Readable (the pytest id, for ``-k``), not unique: model ``x-edm`` with ``heun`` and model ``x``
        with ``edm-heun`` share it. Records are stored by :attr:`key`."""
        nfe = "adaptive" if self.nfe is None else f"nfe{self.nfe}"
        return f"{self.model.label}-{self.sampler}-{nfe}-seed{self.seed}"

    @property
    def key(self) -> str:
        """Unique per cell: the parts joined by '|', which no name contains."""
        nfe = "adaptive" if self.nfe is None else f"nfe{self.nfe}"
        return "|".join((self.model.label, self.sampler, nfe, f"seed{self.seed}"))


@dataclass
class Suite:
    """A standard sweep. ``quick`` holds the field overrides of ``--quick`` mode."""

    name: str
    description: str
    models: list[ModelSpec]
    samplers: list[str]
    nfe: list[int]
    seeds: list[int] = field(default_factory=lambda: [0])
    n_samples: int = 2000
    n_data: int = 2000
    batch_size: int | None = None  # generate in chunks of this size (None: all samples at once)
    metrics: tuple[str, ...] = ("ref_rmse", "w2", "sw2", "straightness", "wall_clock_s")
    timing_repeats: int = 3  # timed draws after the cell's first (0: time the first draw itself, CPU only)
    reference_tol: float = 1e-10
    # dopri5 reference in float64 unless the model is too slow in it (a CPU U-Net: 5x); the
    # reference must stay far more accurate than the best sampler cell
    reference_dtype: str = "float64"
    artifacts: tuple[str, ...] = ()
    sampler_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)  # --smoke: the whole path, tiny, on CPU (for CI)
    default_device: str = "cpu"
    # Suite-level settings of metrics and inputs (weights paths, sample counts, ...), overridable with
    # `rfbench run --set key=value`; only keys present here are accepted. Hashed into cell records.
    options: dict[str, Any] = field(default_factory=dict)
    # prepare(suite, device) -> suite: resolves run-time inputs (e.g. user checkpoints into models)
    # after configure(); raises SuiteSkipped with a one-line reason when the suite cannot run here.
    prepare: Callable[[Suite, str], Suite] | None = None
    # NFE lists for particular models, by label (``name`` or ``name@data``), in place of ``nfe``: e.g.
    # more NFE on the cheap analytic models, where a convergence order needs them; ``--nfe`` replaces all
    nfe_by_model: dict[str, list[int]] = field(default_factory=dict)
    # More NFE for particular models (by label) at which only ref_rmse is computed: the tail of the
    # convergence-order fit (rfbench.reporting.convergence), where a full cell (W2, timing, inversion,
    # intervals) would cost ten times more than the draw; ``--nfe`` drops them
    order_nfe: dict[str, list[int]] = field(default_factory=dict)
    # dtypes for particular models (by label) in place of the run's ``--dtype``: "float64" on the
    # exact oracles, whose ref_rmse must reach below float32's round-off (~1e-6 after 512 steps)
    dtype_by_model: dict[str, str] = field(default_factory=dict)

    def configure(self, *, quick: bool = False, smoke: bool = False, nfe: list[int] | None = None, models: list[str] | None = None,
                  samplers: list[str] | None = None, seeds: list[int] | None = None,
                  n_samples: int | None = None, options: dict[str, Any] | None = None) -> Suite:
        """A copy with quick-mode overrides and user selections applied (and validated)."""
        from ..models import check_model_data
        from ..samplers import SAMPLERS

        if smoke and not self.smoke:
            raise InvalidInputError(f"suite {self.name!r} has no --smoke mode")
        over = {**(self.quick if quick else {}), **(self.smoke if smoke else {})}
        base_options = {**self.options, **over.pop("options", {})}
        suite = dataclasses.replace(self, **over)
        suite.quick, suite.smoke = {}, {}
        from .hooks import CELL_METRICS

        for m in suite.metrics:  # the metric registry declares it and a cell metric computes it
            if m not in CELL_METRICS:
                raise InvalidInputError(f"suite {self.name!r} lists metric {m!r}, which no cell metric computes; "
                                        f"declared metrics with a computation: {', '.join(CELL_METRICS)}")
        suite.options = base_options
        if options:
            unknown = sorted(set(options) - set(base_options))
            if unknown:
                valid = ", ".join(sorted(base_options)) or "none"
                raise InvalidInputError(f"suite {self.name!r} has no option {unknown[0]!r}; valid options: {valid}")
            suite.options = {**base_options, **{k: _cast_option(k, v, base_options[k]) for k, v in options.items()}}
        if nfe is not None:
            from ..samplers.registry import MAX_NFE

            bad = [v for v in nfe if isinstance(v, bool) or not isinstance(v, int) or v < 1]
            if bad or not nfe:
                raise InvalidInputError(f"--nfe must be a list of positive integers, got {nfe}")
            if max(nfe) > MAX_NFE:
                raise InvalidInputError(f"--nfe {max(nfe):,} is above rfbench's ceiling of {MAX_NFE:,} evaluations per "
                                        "cell (a typo? see README, NFE accounting)")
            suite.nfe = sorted(set(nfe))
            suite.nfe_by_model, suite.order_nfe = {}, {}
        if models is not None:
            specs = [ModelSpec.parse(m) for m in models]
            by_label = {m.label: m for m in self.models}
            by_name = {}
            for m in self.models:
                by_name.setdefault(m.name, []).append(m)
            chosen: list[ModelSpec] = []
            for spec in specs:
                check_model_data(spec.name, spec.data)  # unknown names / datasets raise before any cell runs
                if spec.label in by_label:
                    chosen.append(by_label[spec.label])
                elif spec.data is None and spec.name in by_name:
                    chosen.extend(by_name[spec.name])
                else:
                    chosen.append(spec)
            suite.models = list(dict.fromkeys(chosen))
        if samplers is not None:
            for s in samplers:
                SAMPLERS.get(s)
            suite.samplers = list(dict.fromkeys(samplers))
        if seeds is not None:
            if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
                raise InvalidInputError(f"--seeds must be non-negative integers, got {seeds}")
            if max(seeds) > MAX_SEED:
                raise InvalidInputError(f"--seeds must be below 2**63 (= {MAX_SEED + 1}), got {max(seeds)}")
            suite.seeds = list(dict.fromkeys(seeds))
        if n_samples is not None:
            if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
                raise InvalidInputError(f"--n-samples must be an integer >= 2, got {n_samples}")
            suite.n_samples = n_samples
        return suite

    def prepared(self, device: str) -> Suite:
        """The suite with run-time inputs resolved (``prepare``); may raise SuiteSkipped."""
        return self.prepare(self, device) if self.prepare is not None else self

    def nfe_for(self, model: ModelSpec) -> list[int]:
        """The NFE values the suite runs ``model`` at."""
        return list(self.nfe_by_model.get(model.label, self.nfe))

    def cells(self) -> list[Cell]:
        from ..samplers import get_sampler

        out = []
        for model in self.models:
            for seed in self.seeds:
                for sampler in self.samplers:
                    if get_sampler(sampler).adaptive:
                        out.append(Cell(self.name, model, sampler, None, seed))
                    else:
                        nfes = self.nfe_for(model)
                        out.extend(Cell(self.name, model, sampler, n, seed) for n in nfes)
                        if "ref_rmse" in self.metrics:
                            out.extend(Cell(self.name, model, sampler, n, seed, metrics=("ref_rmse",))
                                       for n in self.order_nfe.get(model.label, ()) if n not in nfes)
        return out

    def facts(self) -> dict:
        """What a report says about the suite beyond its rows (written to run.json by the runner)."""
        return {"description": self.description, "timing_repeats": self.timing_repeats}

    def settings(self) -> dict:
        """What every cell's numbers depend on besides the cell itself (hashed into cell records)."""
        out = {"n_samples": self.n_samples, "n_data": self.n_data, "metrics": list(self.metrics),
               "timing_repeats": self.timing_repeats, "sampler_options": self.sampler_options,
               "reference_tol": self.reference_tol, "reference_dtype": self.reference_dtype,
               "batch_size": self.batch_size}
        if self.options:  # only when set, so suites without options keep their record hashes
            out["options"] = self.options
        return out


def _cast_option(key: str, value: Any, default: Any) -> Any:
    """A `--set key=value` string cast to the type of the option's default (bool, int, float, str)."""
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            low = value.strip().lower()
            if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError
            return low in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        kind = {"bool": "a boolean (1/0, true/false, yes/no, on/off)", "int": "an integer",
                "float": "a number"}.get(type(default).__name__, type(default).__name__)
        raise InvalidInputError(f"option {key}={value!r}: expected {kind}, like the default {default!r}") from None
    return value


# -- the suite registry ------------------------------------------------------------------------------
SUITES: Registry[Suite] = Registry("suite")


def register_suite(suite: Suite) -> Suite:
    return SUITES.register(suite.name, suite)


def get_suite(name: str) -> Suite:
    return SUITES.get(name)


def catalogue_samplers(exclude: tuple[str, ...] = ()) -> list[str]:
    """Every sampler rfbench itself registers (defined in an ``rfbench.`` module), in registration
    order: suites list these, so a sampler added to the package joins every suite, while samplers
    registered by tests or user scripts do not."""
    from ..samplers import SAMPLERS

    return [n for n in SAMPLERS if n not in exclude
            and getattr(SAMPLERS.get(n).fn, "__module__", "").startswith("rfbench.")]
