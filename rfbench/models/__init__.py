"""The model catalogue.

Every model is a :class:`~rfbench.models.base.FlowModel` in rfbench time (t = 1 noise, t = 0 data;
see :mod:`rfbench.models.schedules` for the crosswalk to other conventions).

>>> import rfbench
>>> model = rfbench.models.get_model("analytic-gmm-rf")
>>> model = rfbench.models.get_model("1-rf", data="8gaussians")       # trained once, then cached
>>> model = rfbench.models.from_velocity(my_fn, data_shape=(2,))     # your own field (RF convention)
>>> rfbench.models.register_checkpoint("my-rf", "my.pt", family="flow", net="UNet", net_config={...})
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..data import DATASETS
from ..errors import InvalidInputError
from ..identity import config_hash
from ..registry import Registry
from .analytic import AnalyticGMM, AnalyticPFGMPP, analytic_gmm_rf, analytic_gmm_vp, analytic_pfgmpp
from .base import FlowModel, NFECounter
from .priors import GaussianPrior, PFGMPPPrior, Prior
from .rectified_flow import NetworkFlow, RF2DConfig, load_rf_2d
from .schedules import FLOW, FlowSchedule, Schedule, VPLinearSchedule
from .trained import FAMILIES, make_recipe, trained_factory, trained_identity
from .wrappers import from_velocity
from .formats import load_checkpoint, register_checkpoint, register_checkpoints_file  # noqa: E402


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


register_model(ModelEntry("analytic-gmm-rf", analytic_gmm_rf, "analytic", "analytic",
                          "8-Gaussian mixture, rectified-flow path, exact velocity", default_data="8gaussians"))
register_model(ModelEntry("analytic-gmm-vp", analytic_gmm_vp, "analytic", "analytic",
                          "8-Gaussian mixture, VP diffusion path (beta 0.1..20), exact velocity, t in [1e-3, 1]",
                          default_data="8gaussians"))
for _D in (8.0, 128.0, math.inf):
    _label = "inf" if math.isinf(_D) else f"{int(_D)}"
    register_model(ModelEntry(
        f"analytic-pfgmpp-d{_label}", (lambda D=_D, **kw: analytic_pfgmpp(D, **kw)), "analytic", "analytic",
        f"512 points of 8gaussians under the PFGM++ kernel, D={_label}"
        + (" (EDM limit)" if math.isinf(_D) else "") + ", exact denoiser", default_data="8gaussians-points"))


def _diffusers_factory(path: str, sha256: str | None = None):
    from .formats.diffusers import load_diffusers_unet

    return load_diffusers_unet(path, expect_sha256=sha256)


register_model(ModelEntry("diffusers-unet", _diffusers_factory, "diffusion", "external",
                          "a diffusers UNet2DModel + DDPM scheduler config from a local folder (path=...); "
                          "eps/x0/v prediction on its discrete VP schedule"))

TRAIN_DATASETS = ("8gaussians", "moons", "checkerboard", "digits")
for _fam in FAMILIES.values():
    register_model(ModelEntry(_fam.name, trained_factory(_fam.name), _fam.family, "trained", _fam.description,
                              datasets=TRAIN_DATASETS, default_data="8gaussians",
                              data_check=lambda d: d in DATASETS, identity=trained_identity(_fam.name)))

__all__ = [
    "MODELS", "AnalyticGMM", "AnalyticPFGMPP", "FLOW", "FlowModel", "FlowSchedule", "GaussianPrior",
    "ModelEntry", "NFECounter", "NetworkFlow", "PFGMPPPrior", "Prior", "Schedule", "VPLinearSchedule",
    "from_velocity", "get_model", "load_checkpoint", "make_recipe", "model_identity", "register_checkpoint", "register_checkpoints_file", "register_model",
]
