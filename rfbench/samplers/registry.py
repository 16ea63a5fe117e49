"""The sampler registry: name -> :class:`SamplerSpec` (update rule + metadata + NFE plan)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError, RFBenchError
from ..identity import canonical, code_identity, config_hash
from ..models.base import FlowModel
from ..registry import Registry

# The most evaluations one cell may ask for. The largest count among the published numbers rfbench
# compares with is 2,000 (results/published.csv) and convergence-order fits need a few hundred; 10,000
# is 5x the former, and at 1 ms per evaluation a 10,000-NFE cell already takes 10 s of network calls
# (a CIFAR U-Net batch of 1,000 on a GPU: tens of minutes). A larger request is almost always a typo
# (an extra zero), which would otherwise run until killed.
MAX_NFE = 10_000


@dataclass
class Plan:
    """How a sampler realises a requested NFE on a model.

    steps: number of grid intervals; expected_nfe: model evaluations the update rule will make
    (checked against the measured count); kwargs: extra arguments for the sampler function;
    info: anything worth a column (e.g. a rounding note, calibration seconds).
    grid: the grid a sampler option asked for (e.g. DPM-Solver's ``skip_type``), used when the
    caller names none; grid_options: per grid name, options the plan needs that grid to take when
    it is the one used (e.g. DPM-Solver-fast's step groups on the logsnr grid).
    ts: the time grid itself (steps + 1 decreasing times) for samplers that choose their own
    (BOSS), else None (the grid is made by name).
    """

    steps: int
    expected_nfe: int | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    grid: str | None = None
    grid_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    ts: Any = None


def _one_per_step(nfe: int, model: FlowModel, options: dict) -> Plan:
    return Plan(steps=nfe, expected_nfe=nfe)


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler.

    fn: ``fn(model, x, ts, **kwargs) -> x`` walking the decreasing grid ``ts`` from x at ts[0].
    order: global convergence order (None when it has none: adaptive or learned parts).
    nfe_per_step: as the paper counts it, e.g. "1", "2", "2 (last step 1)".
    plan: ``plan(nfe, model, options) -> Plan``.
    needs: "velocity" (any model) or "schedule" (needs data/noise predictions).
    adaptive: True for error-controlled solvers (NFE is an outcome, not a request).
    plan_on_span: the plan depends on the ends of the times walked (DPM-Solver: which steps touch
        infinite lambda); it is called as ``plan(nfe, model, options, span=(t_first, t_last))``,
        the model's (t_max, t_min) unless the caller gives the times (the explicit grid).
    order_at: ``order_at(nfe, model) -> int``, the global order at that NFE on that model where the
        plan's step orders depend on them (DPM-Solver's singlestep allocations end with a step of
        order NFE mod 3); the convergence table fits points of one such order. None: ``order``.
    """

    name: str
    fn: Callable
    order: int | None
    nfe_per_step: str
    paper: str
    description: str
    default_grid: str = "uniform"
    plan: Callable[[int, FlowModel, dict], Plan] = _one_per_step
    needs: str = "velocity"
    adaptive: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    plan_on_span: bool = False
    order_at: Callable[[int, FlowModel], int] | None = None

    def make_plan(self, nfe: int | None, model: FlowModel, options: dict,
                  span: tuple[float, float] | None = None) -> Plan:
        """The plan for ``nfe`` on ``model``; ``span``: the first and last time walked, where known
        before the grid is made (explicit times), else the model's (t_max, t_min)."""
        if self.needs == "schedule":
            model.require_schedule(f"the data/noise predictions {self.name!r} needs")
        if self.adaptive:
            if nfe is not None:
                raise InvalidInputError(
                    f"sampler {self.name!r} is adaptive: its NFE is measured, not requested; "
                    "pass nfe=None and set rtol/atol instead"
                )
            return self.plan(0, model, options)
        if isinstance(nfe, bool) or not isinstance(nfe, int):
            raise InvalidInputError(f"nfe for sampler {self.name!r} must be a positive integer, got {nfe!r}")
        if nfe < 1:
            raise InvalidInputError(f"nfe for sampler {self.name!r} must be >= 1, got {nfe}")
        if nfe > MAX_NFE:
            raise InvalidInputError(f"nfe for sampler {self.name!r} must be at most {MAX_NFE:,}, got {nfe:,} "
                                    "(rfbench.samplers.registry.MAX_NFE)")
        if self.plan_on_span:
            return self.plan(nfe, model, options, span=span if span is not None else (model.t_max, model.t_min))
        return self.plan(nfe, model, options)

    def identity(self) -> str:
        """What the sampler computes, as a hash: rfbench's own update rules and plans by name (the code
        hash of every cell record covers their code), a user's by their code, closures and globals
        (:func:`~rfbench.identity.function_digest`). Raises :class:`~rfbench.identity.CannotFingerprint`."""
        return config_hash({"fn": code_identity(self.fn), "plan": code_identity(self.plan), "order": self.order,
                            "needs": self.needs, "adaptive": self.adaptive,
                            "default_grid": self.default_grid, "options": canonical(self.options)})


class SamplerRegistry(Registry[SamplerSpec]):
    """The sampler registry, plus names ``<prefix>:<rest>`` resolved on lookup by the resolver registered
    for ``prefix`` (the library adapters, ``diffusers:UniPCMultistepScheduler``): such entries are made
    when first asked for, kept, and not iterated (``for name in SAMPLERS`` lists registered samplers)."""

    def __init__(self):
        super().__init__("sampler")
        self.prefixes: dict[str, Callable[[str], SamplerSpec]] = {}
        self._resolved: dict[str, SamplerSpec] = {}

    def register_prefix(self, prefix: str, resolve: Callable[[str], SamplerSpec]) -> None:
        self.prefixes[prefix] = resolve

    def resolve(self, name: object) -> SamplerSpec | None:
        """The entry for a prefixed name (made once; the resolver raises, naming the problem, for a bad
        one), None for a name without a registered prefix."""
        if not isinstance(name, str) or name in self._entries:
            return None
        prefix, sep, _ = name.partition(":")
        if not sep or prefix not in self.prefixes:
            return None
        if name not in self._resolved:
            self._resolved[name] = self.prefixes[prefix](name)
        return self._resolved[name]

    def get(self, name: str) -> SamplerSpec:
        return self.resolve(name) or super().get(name)

    def __contains__(self, name: object) -> bool:
        if super().__contains__(name):
            return True
        try:
            return self.resolve(name) is not None
        except RFBenchError:
            return False


SAMPLERS: SamplerRegistry = SamplerRegistry()


def register_sampler(spec: SamplerSpec, *, replace: bool = False) -> SamplerSpec:
    return SAMPLERS.register(spec.name, spec, replace=replace)


def get_sampler(name: str) -> SamplerSpec:
    return SAMPLERS.get(name)
