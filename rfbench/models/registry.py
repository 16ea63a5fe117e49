"""The model registry: every model rfbench can build, by name (``rfbench list``).

Built-in entries (analytic oracles, ``diffusers-unet``) are registered by :mod:`rfbench.models.builtin`,
the trained catalogue by :mod:`rfbench.training.catalogue`, users' checkpoints by
:func:`rfbench.models.register_checkpoint`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidInputError
from ..identity import config_hash
from ..registry import Registry
from .base import FlowModel


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    ``factory(**options)`` builds the model; factories of trained models take ``data`` (a dataset
    name) and ``progress``. ``kind`` is "analytic" (closed-form velocity, no training error),
    "trained" (trained by rfbench and cached) or "external" (a user's checkpoint).

    ``identity(**options)`` (optional, the factory's arguments) returns a cheap stand-in for the built
    model's :meth:`~rfbench.models.base.FlowModel.fingerprint`: trained models give their recipe hash,
    external checkpoints their file's sha256, so a rerun that reuses every cell record neither trains nor
    loads a model to learn what it is. Without one, :func:`model_identity` builds the model and
    fingerprints it.
    """

    name: str
    factory: Callable[..., FlowModel]
    family: str
    kind: str
    description: str
    datasets: tuple[str, ...] | None = None
    default_data: str | None = None
    # trained models also accept datasets registered later (users' images): data_check(name) -> bool
    data_check: Callable[[str], bool] | None = None
    identity: Callable[..., str] | None = None

    def accepts(self, option: str, *, explicit: bool = False) -> bool:
        params = inspect.signature(self.factory).parameters
        if option in params:
            return True
        return not explicit and any(p.kind is p.VAR_KEYWORD for p in params.values())


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(entry: ModelEntry, *, replace: bool = False) -> ModelEntry:
    return MODELS.register(entry.name, entry, replace=replace)


def check_model_data(name: str, data: str | None) -> str | None:
    """The dataset ``name`` will use with ``data`` (None: the entry's default); raises
    :class:`UnknownNameError` / :class:`InvalidInputError` for an unknown model or a dataset it does not take.
    Cheap (no model is built), so suites check ``--models NAME@DATA`` before any cell runs."""
    entry = MODELS.get(name)
    if entry.datasets is None:
        if data not in (None, entry.default_data):
            raise InvalidInputError(
                f"model {name!r} is {entry.kind} and defines its own data ({entry.default_data}); got data={data!r}"
            )
        return data
    data = data or entry.default_data
    if data not in entry.datasets and not (entry.data_check is not None and entry.data_check(data)):
        raise InvalidInputError(
            f"model {name!r} cannot be trained on dataset {data!r}; expected one of {', '.join(entry.datasets)}"
        )
    return data


def _factory_options(name: str, data: str | None, options: dict) -> dict:
    entry = MODELS.get(name)
    data = check_model_data(name, data)
    options = dict(options)
    if entry.datasets is not None:
        options["data"] = data
    if not entry.accepts("progress", explicit=True):
        options.pop("progress", None)
    for key in options:
        if not entry.accepts(key):
            raise InvalidInputError(f"model {name!r} does not take option {key!r}")
    return options


def get_model(name: str, *, data: str | None = None, **options) -> FlowModel:
    """Build (or load from cache, or train) the model registered as ``name``.

    Args:
        name: a registered model name (``rfbench list``).
        data: dataset for trained models (default: the entry's default); analytic models carry
            their own distribution and accept only ``None`` or their own dataset.
        **options: passed to the factory (e.g. ``steps=``, ``seed=``, ``progress=``).
    """
    return MODELS.get(name).factory(**_factory_options(name, data, options))


def model_identity(name: str, *, data: str | None = None, build: Callable[[], FlowModel] | None = None,
                   **options) -> str:
    """What determines the outputs of ``get_model(name, data=data, **options)``, as a hash: the entry's
    cheap ``identity`` where it has one, else the built model's fingerprint (``build()`` if given, e.g.
    a sweep's memoised model, else the factory). Raises :class:`~rfbench.identity.CannotFingerprint`."""
    entry = MODELS.get(name)
    opts = _factory_options(name, data, options)
    if entry.identity is not None:
        return config_hash({"model": name, "identity": entry.identity(**opts)})
    model = build() if build is not None else entry.factory(**opts)
    return model._fingerprint()
