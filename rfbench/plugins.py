"""Your own models and samplers by reference: ``module.path:attr`` and entry points.

Wherever rfbench takes a model or sampler *name from you* (``rfbench run --models/--samplers``,
``--rfbench-models/--rfbench-samplers`` of the pytest plugin, ``rfbench.sample``, ``get_model``, a
suite's model and sampler lists), it also takes

* ``module.path:attr``: the module is imported and ``attr`` used (below). The module must be
  importable: on ``sys.path`` / ``PYTHONPATH``, or in the current folder (appended to ``sys.path``,
  after the installed packages, so it never shadows one);
* the name of an entry point in the group ``rfbench.models`` or ``rfbench.samplers`` of an installed
  package (``[project.entry-points."rfbench.models"] my-rf = "mypkg.models:make"``), loaded the
  first time the name is asked for.

Importing a module runs its code. rfbench does so only for a reference you give (a command-line
flag, a call, a suite you wrote): names it reads from files (results.csv, cell records, checkpoint
lists) are only compared with what is already registered (``name in MODELS``), never imported.

**Models.** ``attr`` is a factory: called with the options the suite passes (``data=...`` only if
it takes ``data``; ``progress`` only if it takes it), it returns

* a :class:`~rfbench.models.base.FlowModel` (e.g. ``rfbench.models.from_velocity(fn, data_shape=(2,))``),
  used as it is;
* an ``nn.Module`` that declares what it predicts: attributes ``prediction`` ("velocity", "x0" or
  "eps"), ``data_shape``, and optionally ``path`` ("flow" (default), "vp-linear") and ``dataset``
  (a registered dataset, for W2 to held-out data), wrapped as
  :class:`~rfbench.models.families.NetworkFlow` in rfbench time (t = 1 noise);
* a velocity function ``v(x, t)`` with a ``data_shape`` attribute (and optionally ``convention``,
  "rf" by default: t = 0 noise, as in the rectified-flow paper), wrapped by
  :func:`~rfbench.models.from_velocity`.

``attr`` may also be a FlowModel or nn.Module instance itself. Results are labelled with the reference
as you typed it; caches (cell records, reference solutions) are keyed by the model's content (weights,
a function's code and closure: :mod:`rfbench.identity`), never by the name.

**Samplers.** ``attr`` is a :class:`~rfbench.samplers.registry.SamplerSpec` (used as it is) or an update
rule ``fn(model, x, ts, **options) -> x`` walking the decreasing time grid ``ts`` (rfbench time, t = 1
noise) with ``model.velocity(x, t)`` (or ``model.x0`` / ``model.eps``). It is registered with one
evaluation per step unless the function declares ``fn.nfe_per_step = k`` (the NFE must then be a
multiple of k); ``fn.order`` (the convergence order it claims), ``fn.default_grid`` and ``fn.paper``
are read when present. rfbench counts the evaluations the rule makes and fails a cell whose count
differs from the plan.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from typing import Any

from .errors import InvalidInputError

MODEL_GROUP, SAMPLER_GROUP = "rfbench.models", "rfbench.samplers"
_RESOLVED: dict[tuple[str, str], Any] = {}  # (kind, reference) -> ModelEntry / SamplerSpec


def is_reference(name: object) -> bool:
    """``module.path:attr`` (registry names never contain ':')."""
    return isinstance(name, str) and name.count(":") == 1 and all(name.split(":"))


def load_reference(ref: str, kind: str) -> Any:
    """The object ``module.path:attr`` names (``attr`` may be dotted: ``mod:Class.method``)."""
    module_name, _, attr = ref.partition(":")
    try:
        module = _import(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InvalidInputError(f"{kind} {ref!r}: no module named {module_name!r} (expected module.path:attr "
                                    "with the module on sys.path / PYTHONPATH or in the current folder)") from None
        raise InvalidInputError(f"{kind} {ref!r}: importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing: say where
        raise InvalidInputError(f"{kind} {ref!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidInputError(f"{kind} {ref!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _import(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        top = module_name.split(".")[0]
        if exc.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)  # the `rfbench` console script does not put the current folder on sys.path
        return importlib.import_module(module_name)


def _entry_point(group: str, name: str):
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=group) if ep.name == name]
    return found[0] if found else None


def entry_point_names(group: str) -> list[str]:
    """Names declared in an entry-point group by installed packages (nothing is imported)."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group=group)})


# -- models -------------------------------------------------------------------------------------------

def _label(ref: str) -> str:
    """A registry-valid model name for a reference: ``pkg.mod:make`` -> ``pkg.mod.make``."""
    return ref.replace(":", ".")


def as_model(obj: Any, name: str):
    """A factory's result as a FlowModel (see the module docstring)."""
    import torch.nn as nn

    from .models import FlowModel, from_velocity
    from .models.families import NetworkFlow
    from .models.schedules import SCHEDULES, Schedule

    if isinstance(obj, FlowModel):
        return obj
    if isinstance(obj, nn.Module):
        prediction = getattr(obj, "prediction", None)
        if prediction not in ("velocity", "x0", "eps"):
            raise InvalidInputError(f"model {name!r}: an nn.Module must declare prediction = 'velocity', 'x0' or "
                                    f"'eps' (got {prediction!r}), or be wrapped in a FlowModel")
        shape = getattr(obj, "data_shape", None)
        if shape is None:
            raise InvalidInputError(f"model {name!r}: an nn.Module must declare data_shape, e.g. (2,)")
        path = getattr(obj, "path", "flow")
        if isinstance(path, str):
            if path not in SCHEDULES:
                raise InvalidInputError(f"model {name!r}: path must be one of {sorted(SCHEDULES)} or a Schedule, "
                                        f"got {path!r}")
            path = SCHEDULES[path]()
        elif not isinstance(path, Schedule):
            raise InvalidInputError(f"model {name!r}: path must be one of {sorted(SCHEDULES)} or a Schedule")
        return NetworkFlow(obj, name=name, prediction=prediction, dataset=getattr(obj, "dataset", None),
                           schedule=path, data_shape=tuple(shape))
    if callable(obj):
        shape = getattr(obj, "data_shape", None)
        if shape is None:
            raise InvalidInputError(f"model {name!r}: a velocity function needs a data_shape attribute "
                                    "(fn.data_shape = (2,)), or return rfbench.models.from_velocity(fn, data_shape=...)")
        return from_velocity(obj, tuple(shape), convention=getattr(obj, "convention", "rf"), name=name)
    raise InvalidInputError(f"model {name!r}: expected a FlowModel, an nn.Module or a velocity function, "
                            f"got {type(obj).__name__}")


def model_entry(obj: Any, ref: str, name: str, source: str):
    """A :class:`~rfbench.models.ModelEntry` building the model ``obj`` (a factory or a model) gives."""
    import torch.nn as nn

    from .data import DATASETS
    from .models import ModelEntry

    if isinstance(obj, nn.Module):  # the model itself, not a factory
        def factory():
            return as_model(obj, name)
    elif callable(obj):
        @functools.wraps(obj)
        def factory(**options):
            try:
                built = obj(**options)
            except InvalidInputError:
                raise
            except TypeError as exc:
                raise InvalidInputError(f"model {ref!r}: calling the factory failed: {exc}") from exc
            return as_model(built, name)
    else:
        raise InvalidInputError(f"model {ref!r}: expected a factory, a FlowModel or an nn.Module, got "
                                f"{type(obj).__name__}")
    params = inspect.signature(factory).parameters if callable(obj) and not isinstance(obj, nn.Module) else {}
    takes_data = "data" in params
    default = params["data"].default if takes_data and params["data"].default is not inspect.Parameter.empty else None
    return ModelEntry(name=ref, factory=factory, family="user", kind="user", description=f"your model ({source})",
                      datasets=tuple(DATASETS) if takes_data else None, default_data=default,
                      data_check=(lambda d: d in DATASETS) if takes_data else None)


def resolve_model(name: str):
    """The entry for a model reference or entry-point name, or None (not one: an unknown name)."""
    from .models import MODELS, register_model

    if is_reference(name):
        key = ("model", name)
        if key not in _RESOLVED:
            _RESOLVED[key] = model_entry(load_reference(name, "model"), name, _label(name), name)
        return _RESOLVED[key]
    if not isinstance(name, str):
        return None
    ep = _entry_point(MODEL_GROUP, name)
    if ep is None:
        return None
    entry = model_entry(ep.load(), name, name, f"entry point {ep.value}")
    return register_model(entry, replace=True) if name not in MODELS else MODELS.get(name)


# -- samplers -----------------------------------------------------------------------------------------

class _StepsPlan:
    """The default plan of a user's rule: NFE / k steps of k evaluations (k = fn.nfe_per_step, 1 by default)."""

    def __init__(self, name: str, k: int):
        self.name, self.k = name, k

    def __call__(self, nfe: int, model, options: dict):
        from .samplers.registry import Plan

        if nfe % self.k:
            raise InvalidInputError(f"sampler {self.name!r} takes {self.k} evaluations per step: NFE must be a "
                                    f"multiple of {self.k}, got {nfe}")
        return Plan(steps=nfe // self.k, expected_nfe=nfe)


def sampler_spec(obj: Any, ref: str, source: str):
    """A :class:`~rfbench.samplers.registry.SamplerSpec` for a user's spec or update rule."""
    from .samplers.registry import SamplerSpec

    if isinstance(obj, SamplerSpec):
        return obj
    if not callable(obj):
        raise InvalidInputError(f"sampler {ref!r}: expected a SamplerSpec or a function fn(model, x, ts) -> x, "
                                f"got {type(obj).__name__}")
    k = getattr(obj, "nfe_per_step", 1)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"sampler {ref!r}: nfe_per_step must be a positive integer, got {k!r}")
    order = getattr(obj, "order", None)
    doc = (inspect.getdoc(obj) or "").strip().splitlines()
    return SamplerSpec(name=ref, fn=obj, order=order, nfe_per_step=str(k),
                       paper=getattr(obj, "paper", f"your sampler ({source})"),
                       description=doc[0] if doc else f"your sampler {ref}",
                       default_grid=getattr(obj, "default_grid", "uniform"),
                       plan=_StepsPlan(ref, k), options={"nfe_per_step": k})  # options: hashed into its identity


def resolve_sampler(name: str):
    """The spec for a sampler reference or entry-point name, or None (not one: an unknown name)."""
    from .samplers.registry import SAMPLERS, register_sampler

    if is_reference(name):
        key = ("sampler", name)
        if key not in _RESOLVED:
            _RESOLVED[key] = sampler_spec(load_reference(name, "sampler"), name, name)
        return _RESOLVED[key]
    if not isinstance(name, str):
        return None
    ep = _entry_point(SAMPLER_GROUP, name)
    if ep is None:
        return None
    spec = sampler_spec(ep.load(), name, f"entry point {ep.value}")
    if spec.name != name:
        import dataclasses

        spec = dataclasses.replace(spec, name=name)
    return register_sampler(spec, replace=True) if name not in SAMPLERS else SAMPLERS.get(name)


# -- your own suite -----------------------------------------------------------------------------------

def define_suite(name: str, *, models: list, samplers: list[str], nfe: list[int], seeds: list[int] = (0,),
                 description: str = "", **fields) -> str:
    """Register a suite of your own and return its name, for a pytest suite file::

        RFBENCH_SUITE = rfbench.define_suite("mine", models=["mymodel:make", "analytic-gmm-rf"],
                                             samplers=["mysampler:heun", "euler"], nfe=[2, 4, 8])

    ``models``: names, ``name@data`` or ``module:factory`` references; ``fields``: other
    :class:`~rfbench.runner.suite.Suite` settings (``n_samples``, ``metrics``, ``quick``, ...).
    Defining the same name again (a re-imported file) replaces it.
    """
    from .runner.suite import ModelSpec, Suite
    from .suites import SUITES

    specs = [m if isinstance(m, ModelSpec) else ModelSpec.parse(m) for m in models]
    suite = Suite(name=name, description=description or f"user suite {name}", models=specs, samplers=list(samplers),
                  nfe=sorted(set(nfe)), seeds=list(seeds), **fields)
    SUITES.register(name, suite, replace=True)
    return name


def install() -> None:
    """Hook the resolvers into the model and sampler registries' name lookups (``Registry.get``)."""
    from .models import MODELS
    from .samplers.registry import SAMPLERS

    MODELS.resolver = resolve_model
    SAMPLERS.resolver = resolve_sampler


install()
