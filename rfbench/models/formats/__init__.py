"""Released checkpoints of RectifiedFlow, score_sde, EDM, PFGM++ and 2-RF++ as rfbench models.

>>> model = load_checkpoint("checkpoint_8.pth", preset="rf-cifar10-ddpmpp")          # RectifiedFlow 1-RF
>>> model = load_checkpoint("edm-cifar10-32x32-cond-vp.pkl")                           # EDM, self-describing
>>> model = load_checkpoint("training-state-200000.pt")                                # PFGM++
>>> model = load_checkpoint("cifar10.pth", preset="rfpp-cifar10")                      # 2-RF++
>>> info = inspect_checkpoint("edm-cifar10-32x32-cond-vp.pkl"); print(info.summary())

Formats (detected from the file; ``format=`` to insist):

==================  =============================================  ========================================
format              file                                           read with
==================  =============================================  ========================================
``score-sde``       ``torch.save({optimizer, model, ema, step})``  torch's weights-only unpickler; EMA list
                    (RectifiedFlow, score_sde)                     mapped onto the parameters() order
``edm-pickle``      EDM / PFGM++ ``.pkl`` snapshot, or a           rfbench's restricted unpickler
                    ``training-state-*.pt`` (PFGM++, EDM)          (:mod:`.persistence`): no code runs
``rfpp``            state dict of ``EDMPrecondVel`` (``model.``)   weights-only
``rfbench``         rfbench's own checkpoint                       :mod:`.rfbench`, :mod:`.state_dict`
``state_dict``      a bare state dict of an rfbench network        :mod:`.state_dict` (described by arguments)
``diffusers``       a diffusers folder                             :mod:`.diffusers`
==================  =============================================  ========================================

score_sde and rfpp files hold weights only: name their configuration with ``preset=`` (see
:data:`PRESETS`) or ``config=`` in the original's field names (score_sde's ``config.model`` /
``config.data`` fields with ``sde=`` "rectified_flow", "vpsde" or "vesde"; rfpp's JSON fields). EDM
and PFGM++ files carry their constructor arguments; a ``preset=`` is then checked against them.
Every tensor of the file must be used and none may be missing. How each model's time maps to
rfbench's is in :mod:`rfbench.models.nets.flows`.

Under a model name, for suites and the CLI (``--checkpoint NAME=PATH``, ``--checkpoints FILE.json``)::

    register_checkpoint("edm-cond", "edm-cifar10-32x32-cond-vp.pkl")                 # format detected
    register_checkpoint("rf", "checkpoint_8.pth", preset="rf-cifar10-ddpmpp")
    register_checkpoint("my-rf", "my_rf.pt", format="state_dict", family="flow", net="UNet",
                        net_config={...}, data_shape=(1, 8, 8), dataset="digits")
    register_checkpoints_file("checkpoints.json")        # a JSON list of register_checkpoint's arguments

A registered checkpoint's cache identity is the sha256 of its bytes (of its files, for a diffusers
folder) and the options it is read with, never its name or path: a changed file recomputes every
dependent cell, a moved one reuses them.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ...errors import CheckpointError, InvalidInputError
from ...identity import config_hash, sha256_file
from ..base import FlowModel
from ..nets import NCSNpp, NCSNppConfig
from ..nets.flows import RectifiedFlowVelocity, ScoreSDEVP, VEScoreDenoiser, denoiser_flow
from ..nets.layers import init_random_
from ..nets.precond import PRECONDS, EDMPrecondVel
from . import edm, rfpp, score_sde
from .persistence import PersistentRecord, UnsafePickleError, find_records, read_pickle, read_torch_file
from .presets import PRESETS, Preset, get_preset

FORMATS = ("score-sde", "edm-pickle", "rfpp", "rfbench", "diffusers")
REGISTER_FORMATS = ("auto", "state_dict", *FORMATS)  # register_checkpoint(format=...)
SDE_KINDS = {"rectified_flow": "rf", "rf": "rf", "vpsde": "vp-eps", "vp-eps": "vp-eps", "vesde": "ve-score",
             "ve-score": "ve-score"}
_PERSISTENCE_MARK = b"_reconstruct_persistent_obj"


# -- reading -------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return sha256_file(path)


_REFUSED = "which rfbench does not load"


def _unsafe(path: Path, exc: UnsafePickleError) -> CheckpointError:
    return CheckpointError(
        f"checkpoint file {path} refers to {exc.module}.{exc.name}, {_REFUSED}: only tensors, plain "
        "containers and EDM's persistence records are accepted, and nothing in the file was executed")


def _read_restricted(path: Path, zipped: bool):
    try:
        return read_torch_file(path) if zipped else read_pickle(path)
    except UnsafePickleError as exc:
        raise _unsafe(path, exc) from None
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt files
        raise CheckpointError(f"checkpoint file {path} could not be read ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None


def _zip_has_persistence(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("data.pkl")]
            return bool(pkl) and _PERSISTENCE_MARK in zf.read(pkl[0])
    except (zipfile.BadZipFile, OSError):
        return False


def read_any(path: str | Path) -> tuple[str, Any]:
    """(format, content) of a checkpoint file or folder; nothing in it is executed."""
    from .diffusers import locate
    from .rfbench import read_checkpoint

    path = Path(path).expanduser()
    if path.is_dir():
        try:
            locate(path)
        except CheckpointError as exc:
            raise CheckpointError(f"checkpoint {path} is a folder but not a diffusers checkpoint: "
                                  f"{str(exc).split(': ', 1)[-1]}") from None
        return "diffusers", None
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(4)
    zipped = head.startswith(b"PK\x03\x04")
    if zipped and _zip_has_persistence(path):
        obj = _read_restricted(path, zipped=True)
    elif zipped:
        obj = read_checkpoint(path, allow_unsafe=False)
    else:
        obj = _read_restricted(path, zipped=False)
        if isinstance(obj, int) and not isinstance(obj, bool):  # torch's legacy format starts with a magic number
            try:
                obj = read_checkpoint(path, allow_unsafe=False)
            except CheckpointError as exc:  # a legacy-format file of persistence records (an old training state)
                if "torch_utils.persistence" not in str(exc):
                    raise
                obj = _read_restricted(path, zipped=True)
    return classify(obj, path), obj


def classify(obj, path: Path) -> str:
    from .rfbench import FORMAT as RFBENCH_FORMAT

    if find_records(obj):
        return "edm-pickle"
    if isinstance(obj, dict) and obj.get("format") == RFBENCH_FORMAT:
        return "rfbench"
    if score_sde.is_score_sde(obj):
        return "score-sde"
    if rfpp.is_rfpp(obj):
        return "rfpp"
    what = (f"a dict with keys {sorted(map(str, obj))[:6]}" if isinstance(obj, dict) else f"a {type(obj).__name__}")
    raise CheckpointError(
        f"checkpoint file {path} holds {what}; expected one of: a score_sde/RectifiedFlow training checkpoint "
        "(keys model, ema, optimizer, step), an EDM/PFGM++ persistence pickle or training state, rfpp's state dict "
        "(keys model.*), an rfbench checkpoint, or a diffusers folder")


# -- building --------------------------------------------------------------------------------------------


def _resolve_preset(preset, fmt: str, path) -> Preset | None:
    if preset is None:
        return None
    p = preset if isinstance(preset, Preset) else get_preset(preset)
    if p.format != fmt:
        raise CheckpointError(f"checkpoint file {path} is in {fmt} format, but preset {p.name!r} expects {p.format}")
    return p


def _wrap(net, kind: str, data_shape, name: str, meta: dict, options: dict) -> FlowModel:
    opts = dict(options)
    if kind == "rf":
        model = RectifiedFlowVelocity(net, data_shape=data_shape, name=name, meta=meta, eps=opts.pop("eps", 1e-3))
    elif kind == "vp-eps":
        model = ScoreSDEVP(net, data_shape=data_shape, name=name, meta=meta, beta_min=opts.pop("beta_min", 0.1),
                           beta_max=opts.pop("beta_max", 20.0), eps=opts.pop("eps", 1e-3))
    elif kind == "ve-score":
        if net.cfg.embedding_type != "fourier":
            raise CheckpointError(f"{meta.get('source')}: a VE model with positional (discrete sigma index) embedding "
                                  "is not supported; rfbench loads score_sde's continuous VE models (fourier)")
        den = VEScoreDenoiser(net, opts.pop("sigma_min", 0.01), opts.pop("sigma_max", 50.0))
        model = denoiser_flow(den, data_shape=data_shape, name=name, meta=meta)
    elif kind == "denoiser":
        model = denoiser_flow(net, data_shape=data_shape, name=name, meta=meta, sigma_min=opts.pop("sigma_min", None),
                              sigma_max=opts.pop("sigma_max", None))
    else:
        raise InvalidInputError(f"unknown model kind {kind!r}; expected rf, vp-eps, ve-score or denoiser")
    if opts:
        raise InvalidInputError(f"option(s) {sorted(opts)} do not apply to a {kind} model")
    return model.eval()


def _ncsnpp(config: dict, source: str) -> NCSNpp:
    try:
        return NCSNpp(config=NCSNppConfig.from_dict(dict(config), source=source))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: {exc}") from None


def _check_edm_preset(rec: PersistentRecord, p: Preset, path: Path) -> None:
    kwargs = rec.init_kwargs
    for key, want in p.config.items():
        if key in ("dropout", "use_fp16", "label_dropout") or key not in kwargs:
            continue
        have = kwargs[key]
        same = ([edm._scalar(v) for v in have] == want) if isinstance(want, list) and isinstance(have, (list, tuple)) \
            else edm._same(have, want)
        if not same:
            raise CheckpointError(f"checkpoint file {path} does not match preset {p.name!r}: {key} is {kwargs[key]!r}, "
                                  f"the preset has {want!r}")


def load_checkpoint(path: str | Path, *, format: str | None = None, config: dict | None = None,  # noqa: A002
                    preset: str | Preset | None = None, weights: str | None = None, name: str | None = None,
                    sde: str | None = None, **options) -> FlowModel:
    """Load a released checkpoint as a :class:`FlowModel` in rfbench time (see the module docstring).

    Args:
        path: the file (or a diffusers folder).
        format: insist on a format (one of :data:`FORMATS`); default: detected from the file.
        config: the network configuration in the original's field names (score_sde, rfpp).
        preset: a name from :data:`PRESETS` (the released configurations).
        weights: "ema" (default where the file has both) or "live".
        name: the model's name in results (default: the preset or the file name).
        sde: for score_sde files given by ``config``: "rectified_flow", "vpsde" or "vesde".
        **options: wrapper options: ``eps`` (rf, vp-eps), ``beta_min``/``beta_max`` (vp-eps),
            ``sigma_min``/``sigma_max`` (denoisers, ve-score).
    """
    path = Path(path).expanduser()
    fmt, obj = read_any(path)
    if format is not None and format != fmt:
        if format not in FORMATS:
            raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
        raise CheckpointError(f"checkpoint file {path} is in {fmt} format, not {format}")
    label = name or (preset.name if isinstance(preset, Preset) else preset) or path.stem
    if fmt == "diffusers":
        from .diffusers import load_diffusers_unet

        _no_extra(path, fmt, config=config, preset=preset, weights=weights, sde=sde, **options)
        return load_diffusers_unet(path, name=label)
    if fmt == "rfbench":
        from .state_dict import load_checkpoint_model

        _no_extra(path, fmt, config=config, preset=preset, weights=weights, sde=sde, **options)
        return load_checkpoint_model(label, path)
    p = _resolve_preset(preset, fmt, path)
    meta = {"source": str(path), "sha256": _sha256(path), "format": fmt, "preset": p.name if p else None}
    if fmt == "edm-pickle":
        if config is not None or sde is not None:
            raise InvalidInputError(f"checkpoint file {path}: EDM/PFGM++ files record their own configuration; "
                                    "config= and sde= do not apply")
        key, rec = edm.network_record(obj, path, weights)
        if p is not None:
            _check_edm_preset(rec, p, path)
        net = edm.build_from_record(rec, path)
        meta["weights"] = {"ema": "ema", "net": "live"}.get(key, key)
        shape = (net.img_channels, net.img_resolution, net.img_resolution)
        return _wrap(net, "denoiser", shape, label, meta, options)
    if fmt == "score-sde":
        cfg, kind = _config_and_kind(path, p, config, sde)
        net = _ncsnpp(cfg, f"checkpoint file {path}")
        score_sde.load_weights(obj, net, path, weights)
        meta["weights"] = weights or "ema"
        shape = (net.cfg.num_channels, net.cfg.image_size, net.cfg.image_size)
        return _wrap(net, kind, shape, label, meta, {**(p.options if p else {}), **options})
    if fmt == "rfpp":
        if weights not in (None, "live"):
            raise InvalidInputError(f"checkpoint file {path}: rfpp files hold one set of weights; weights= does not apply")
        if sde is not None:
            raise InvalidInputError(f"checkpoint file {path}: sde= applies to score_sde files only")
        cfg = p.net_config() if p else config
        if cfg is None:
            raise CheckpointError(f"checkpoint file {path} is rfpp's state dict (weights only); name its configuration: "
                                  f"preset= one of {', '.join(n for n, q in PRESETS.items() if q.format == 'rfpp')}, "
                                  "or config= rfpp's configs_unet JSON as a dict")
        net = rfpp.build(cfg, obj, path)
        meta["weights"] = "only"
        shape = (net.img_channels, net.img_resolution, net.img_resolution)
        return _wrap(net, "denoiser", shape, label, meta, options)
    raise AssertionError(fmt)  # pragma: no cover


def _no_extra(path, fmt, **given) -> None:
    extra = sorted(k for k, v in given.items() if v is not None)
    if extra:
        raise InvalidInputError(f"checkpoint {path} is in {fmt} format; option(s) {extra} do not apply")


def _config_and_kind(path: Path, p: Preset | None, config: dict | None, sde: str | None) -> tuple[dict, str]:
    if p is not None:
        if config is not None:
            raise InvalidInputError(f"checkpoint file {path}: give preset= or config=, not both")
        kind = SDE_KINDS.get(sde, p.kind) if sde is not None else p.kind
        if sde is not None and sde not in SDE_KINDS:
            raise InvalidInputError(f"sde must be one of {', '.join(SDE_KINDS)}, got {sde!r}")
        return p.net_config(), kind
    if config is None or sde is None:
        names = ", ".join(n for n, q in PRESETS.items() if q.format == "score-sde")
        raise CheckpointError(f"checkpoint file {path} is a score_sde/RectifiedFlow training checkpoint (weights only); "
                              f"name its configuration: preset= one of {names}, or config= (score_sde's model/data "
                              "fields) with sde= 'rectified_flow', 'vpsde' or 'vesde'")
    if sde not in SDE_KINDS:
        raise InvalidInputError(f"sde must be one of {', '.join(SDE_KINDS)}, got {sde!r}")
    return dict(config), SDE_KINDS[sde]


def model_from_preset(preset: str | Preset, *, seed: int = 0, name: str | None = None, **options) -> FlowModel:
    """The model of a released configuration with randomly initialised weights (plumbing and speed tests)."""
    from ..nets import NETS

    p = preset if isinstance(preset, Preset) else get_preset(preset)
    cfg = p.net_config()
    net = _ncsnpp(cfg, f"preset {p.name}") if p.net == "NCSNpp" else NETS[p.net](**cfg)
    init_random_(net, torch.Generator().manual_seed(int(seed)))
    meta = {"source": None, "sha256": None, "format": p.format, "preset": p.name, "weights": f"random (seed {seed})"}
    return _wrap(net.eval().requires_grad_(False), p.kind, p.data_shape, name or f"{p.name}-random", meta,
                 {**p.options, **options})


# -- registration under a name ------------------------------------------------------------------------

_DESCRIBED = ("family", "net", "net_config", "data_shape")  # a bare state dict's description
_REGISTERED: dict[str, Path] = {}  # name -> path of the checkpoints registered in this process


def registered_checkpoint(name: str) -> Path | None:
    """The path a checkpoint was registered from under ``name`` (None: not a registered checkpoint)."""
    return _REGISTERED.get(name)


def detect_format(path: str | Path, *, described: bool = False) -> str:
    """The format ``register_checkpoint(format="auto")`` reads ``path`` in: "diffusers" for a folder,
    "state_dict" when the file is described by family/net/... (``described``) or is neither a released
    format nor an rfbench checkpoint, else what :func:`read_any` finds. Nothing in the file is executed."""
    path = Path(path).expanduser()
    if path.is_dir():
        return "diffusers"
    if described:
        return "state_dict"
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    try:
        fmt, _ = read_any(path)
    except CheckpointError as exc:
        # an rfbench/state-dict file the restricted readers do not recognise (a bare state dict, or one
        # that needs --allow-unsafe-load) is the state-dict reader's to judge and explain; a refused
        # EDM/PFGM++ pickle never is (the state-dict reader's unsafe path would unpickle it)
        if _REFUSED in str(exc):
            raise
        return "state_dict"
    return "rfbench" if fmt == "rfbench" else fmt


def checkpoint_digest(path: str | Path) -> str | None:
    """sha256 of a checkpoint's content: the file's bytes, or a diffusers folder's config and weight
    files (:func:`.diffusers.checkpoint_sha256`); None where the path does not exist."""
    path = Path(path).expanduser()
    if path.is_dir():
        from .diffusers import checkpoint_sha256

        return checkpoint_sha256(path)
    return sha256_file(path) if path.is_file() else None


def _load_registered(name: str, path: Path, fmt: str, kwargs: dict, expect: str | None, allow_unsafe) -> FlowModel:
    if fmt == "diffusers":
        from .diffusers import load_diffusers_unet

        return load_diffusers_unet(path, name=name, expect_sha256=expect)
    if fmt in ("state_dict", "rfbench"):
        from .state_dict import load_checkpoint_model

        return load_checkpoint_model(name, path, sha256=expect, allow_unsafe=allow_unsafe, **kwargs)
    if expect is not None:
        actual = sha256_file(path)
        if actual != expect.strip().lower():
            raise CheckpointError(f"checkpoint file {path} is corrupted or was changed: sha256 {actual[:12]}... does "
                                  f"not match {expect.strip()[:12]}...")
    return load_checkpoint(path, format=fmt, name=name, **kwargs)


def register_checkpoint(name: str, path: str | Path, *, format: str = "auto", sha256: str | None = None,  # noqa: A002
                        replace: bool = False, description: str | None = None, allow_unsafe: bool | None = None,
                        dataset: str | None = None, **options):
    """Register the checkpoint at ``path`` as model ``name`` (kind "external"); returns the registry entry.

    ``format``: "auto" (detected: a folder is a diffusers checkpoint, a file one of :data:`FORMATS`, a
    bare state dict when ``family``/``net``/``net_config``/``data_shape`` describe it), or one of
    :data:`REGISTER_FORMATS` to insist. ``sha256``: refuse the file unless its bytes have this hash.
    ``options``: for released formats :func:`load_checkpoint`'s (``preset``, ``config``, ``weights``,
    ``sde``, wrapper options); for rfbench files and state dicts those of
    :func:`.state_dict.load_checkpoint_model` (``family``, ``net``, ``net_config``, ``data_shape``, family
    options). ``allow_unsafe``: rfbench/state-dict files only (see :func:`.rfbench.read_checkpoint`).

    The checkpoint is loaded once now, so a bad file fails here with a one-line
    :class:`CheckpointError`; ``get_model(name)`` reads it again, and ``get_model(name, sha256=...)``
    refuses a file whose content changed. The entry's identity (what caches key on) is the content
    hash plus the reading options, never the name or the path.
    """
    from ...registry import check_name
    from ..registry import MODELS, ModelEntry, register_model
    from .state_dict import check_types

    check_name(name, "checkpoint")
    if format not in REGISTER_FORMATS:
        raise InvalidInputError(f"checkpoint {name!r}: format must be one of {', '.join(REGISTER_FORMATS)}, "
                                f"got {format!r}")
    check_types({"sha256": sha256, "description": description, "dataset": dataset, **options}, f"checkpoint {name!r}")
    if name in MODELS and MODELS.get(name).kind != "external":
        raise InvalidInputError(f"checkpoint name {name!r} is taken by rfbench's {MODELS.get(name).kind} model; "
                                "choose another name")
    if name in MODELS and not replace:
        raise InvalidInputError(f"model {name!r} is already registered; choose another name or pass replace=True")
    path = Path(path).expanduser()
    described = any(options.get(k) is not None for k in _DESCRIBED)
    fmt = detect_format(path, described=described) if format == "auto" else format
    if fmt in ("state_dict", "rfbench"):
        kwargs = {"dataset": dataset, **options}
    else:
        if fmt == "diffusers" and options:
            raise InvalidInputError(f"checkpoint {name!r}: {path} is a diffusers folder; option(s) {sorted(options)} "
                                    "do not apply")
        kwargs = dict(options)
    model = _load_registered(name, path, fmt, kwargs, sha256, allow_unsafe)
    if dataset is not None:
        model.dataset = dataset
    reading = {"format": fmt, **{k: v for k, v in kwargs.items() if v is not None}}

    def factory(sha256: str | None = sha256) -> FlowModel:
        m = _load_registered(name, path, fmt, kwargs, sha256, allow_unsafe)
        if dataset is not None:
            m.dataset = dataset
        return m

    def identity(sha256: str | None = None) -> str:  # the content and how it is read, without loading it
        return config_hash({"sha256": checkpoint_digest(path), "reading": reading})

    kind_text = getattr(model, "prediction", None) or model.config().get("prediction")
    entry = ModelEntry(name, factory, family=f"external ({type(model).__name__}, {kind_text})", kind="external",
                       description=description or f"{fmt} checkpoint {path}", default_data=dataset, identity=identity)
    entry = register_model(entry, replace=replace)
    _REGISTERED[name] = path
    return entry


# keys of an entry of a checkpoint list: register_checkpoint's arguments and the loaders' options
LIST_KEYS = {"name", "path", "format", "sha256", "description", "dataset",
             "family", "net", "net_config", "data_shape", "schedule", "t_min", "D", "sigma_data", "sigma_max",
             "sigma_min", "preset", "config", "weights", "sde", "eps", "beta_min", "beta_max"}


def register_checkpoints_file(path: str | Path, *, replace: bool = False, allow_unsafe: bool | None = None) -> list[str]:
    """Register every checkpoint listed in a JSON file (a list of :func:`register_checkpoint` keyword
    dicts, each with "name" and "path"; relative paths are relative to the JSON file). Returns the names."""
    from .state_dict import check_types

    path = Path(path).expanduser()
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"checkpoint list {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"checkpoint list {path} is not valid JSON ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e and "path" in e for e in entries):
        raise InvalidInputError(f"checkpoint list {path} must be a JSON list of objects with 'name' and 'path'")
    names = []
    for i, e in enumerate(entries):
        unknown = sorted(set(e) - LIST_KEYS)
        if unknown:
            raise InvalidInputError(f"checkpoint list {path}, entry {i}: unknown key {unknown[0]!r}; expected keys "
                                    f"among {', '.join(sorted(LIST_KEYS))}")
        if not isinstance(e["name"], str) or not e["name"].strip() or not isinstance(e["path"], str):
            raise InvalidInputError(f"checkpoint list {path}, entry {i}: 'name' and 'path' must be non-empty strings, "
                                    f"got {e['name']!r} and {e['path']!r}")
        check_types(e, f"checkpoint list {path}, entry {i}")
        e = dict(e)
        name, file = e.pop("name"), Path(e.pop("path")).expanduser()
        if not file.is_absolute():
            file = path.parent / file
        register_checkpoint(name, file, replace=replace, allow_unsafe=allow_unsafe, **e)
        names.append(name)
    return names


def parse_checkpoint_args(items: list[str] | None, flag: str = "--checkpoint") -> list[tuple[str, Path]]:
    """``["NAME=PATH", ...]`` (also comma-joined) -> [(name, path)]; one-line error for a bad item."""
    out = []
    for text in items or []:
        for item in [s for s in str(text).split(",") if s.strip()]:
            name, sep, file = item.partition("=")
            name, file = name.strip(), file.strip()
            if not sep or not name or not file:
                raise InvalidInputError(f"{flag} expects NAME=PATH, got {item!r}")
            out.append((name, Path(file).expanduser()))
    return out


# -- inspection ------------------------------------------------------------------------------------------


@dataclass
class CheckpointInfo:
    """What :func:`inspect_checkpoint` found in a file."""

    path: str
    format: str
    network: str | None = None
    config: dict | None = None
    parameters: int | None = None
    tensors: int | None = None
    weights: str | None = None
    preconditioning: str | None = None
    conditioning: str | None = None
    prediction: str | None = None
    time_map: str | None = None
    t_range: tuple[float, float] | None = None
    prior: dict | None = None
    preset: str | None = None
    sha256: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rows = [("file", self.path), ("format", self.format), ("network", self.network),
                ("parameters", f"{self.parameters:,}" if self.parameters is not None else None),
                ("tensors", self.tensors), ("weights", self.weights), ("preconditioning", self.preconditioning),
                ("conditioning", self.conditioning), ("prediction", self.prediction), ("time", self.time_map),
                ("t range", self.t_range), ("prior", self.prior), ("preset", self.preset), ("sha256", self.sha256)]
        lines = [f"{k:>16}: {v}" for k, v in rows if v is not None]
        lines += [f"{'note':>16}: {n}" for n in self.notes]
        return "\n".join(lines)


TIME_MAPS = {
    "RectifiedFlowVelocity": "t = 1 - t_rf; v = -net(x, 999 t_rf) (RectifiedFlow: t_rf = 0 noise)",
    "ScoreSDEVP": "t = score_sde's t; eps = net(x, 999 t) on the VP linear schedule",
    "DenoiserFlow": "t = sigma / (1 + sigma), x_t = x_sigma / (1 + sigma); x0 = D(x_sigma, sigma)",
}


def _describe_net(net) -> tuple[str, str | None, str]:
    """(network, preconditioning, conditioning) of a loaded or built network."""
    if isinstance(net, VEScoreDenoiser):
        return "NCSNpp", "VE score (D = x + sigma^2 score)", "unconditional"
    if isinstance(net, NCSNpp):
        return "NCSNpp", None, "unconditional"
    inner = type(net.model).__name__
    if isinstance(net, EDMPrecondVel):
        pre = f"rfpp EDMPrecondVel (EDM preconditioning, sigma_data {net.sigma_data}, zero augment labels)"
    elif isinstance(net, tuple(PRECONDS.values())):
        pre = type(net).__name__ + (f" (sigma_data {net.sigma_data})" if hasattr(net, "sigma_data") else "")
        if getattr(net, "pfgmpp", False):
            pre += f", PFGM++ D = {net.D}"
    else:
        pre = type(net).__name__
    cond = f"class-conditional, {net.label_dim} classes" if net.label_dim else "unconditional"
    aug = net.model.config.get("augment_dim", 0)
    if aug:
        cond += f"; augment_dim {aug} (augmentation labels off at sampling)"
    return inner, pre, cond


def inspect_checkpoint(path: str | Path, **options) -> CheckpointInfo:
    """Report what a checkpoint holds (format, network, parameter count, EMA or live weights,
    preconditioning, conditioning, how its time maps to rfbench's). Options as :func:`load_checkpoint`;
    a weights-only file without ``preset``/``config`` is described as far as the file allows."""
    path = Path(path).expanduser()
    fmt, obj = read_any(path)
    info = CheckpointInfo(path=str(path), format=fmt)
    if fmt == "diffusers":
        model = load_checkpoint(path, **options)
        info.network, info.parameters = type(model.unet).__name__, sum(p.numel() for p in model.unet.parameters())
        info.prediction, info.t_range = model.prediction, (model.t_min, model.t_max)
        info.time_map = "t = (k + 1) / T for the DDPM step k; eps/x0 on the discrete VP schedule"
        return info
    info.sha256 = _sha256(path)
    if fmt == "score-sde":
        state = score_sde.model_state(obj, path)
        info.tensors = len(state)
        info.weights = f"EMA (decay {obj['ema'].get('decay')}) and live; step {obj.get('step')}"
    elif fmt == "rfpp":
        info.tensors, info.weights = len(obj), "only one set (the released weights)"
    elif fmt == "edm-pickle":
        key, rec = edm.network_record(obj, path, options.get("weights"))
        info.tensors = edm.count_tensors(rec)[0]
        info.weights = {"ema": "EMA", "net": "live"}.get(key, key)
        others = sorted(k for k in find_records(obj) if k != key)
        if others:
            info.notes.append(f"other records in the file: {', '.join(others)} (not loaded)")
    try:
        model = load_checkpoint(path, **options)
    except CheckpointError as exc:
        if fmt in ("score-sde", "rfpp") and not options.get("preset") and not options.get("config"):
            info.notes.append(str(exc).split("; ", 1)[-1])
            if fmt == "score-sde":
                info.parameters = sum(int(t.numel()) for k, t in score_sde.model_state(obj, path).items() if k != "sigmas")
            else:
                info.parameters = sum(int(t.numel()) for t in obj.values())
            return info
        raise
    net = model.net
    info.network, info.preconditioning, info.conditioning = _describe_net(net)
    info.parameters = sum(p.numel() for p in net.parameters())
    info.config = dict(getattr(getattr(net, "model", net), "config", {}) or {})
    info.prediction = model.prediction
    info.time_map = TIME_MAPS.get(type(model).__name__)
    if isinstance(net, EDMPrecondVel):
        info.time_map = "t = rfpp's t; x0 = D(x_t / (1 - t), t / (1 - t)) (rfpp's v = (x_t - x0) / t)"
    elif isinstance(net, VEScoreDenoiser):
        info.time_map = TIME_MAPS["DenoiserFlow"] + "; D = x + sigma^2 net(x, sigma)"
    info.t_range = (model.t_min, model.t_max)
    info.prior = model.prior.config()
    info.preset = model.meta.get("preset")
    return info


__all__ = ["FORMATS", "PRESETS", "REGISTER_FORMATS", "CheckpointInfo", "Preset", "checkpoint_digest", "detect_format",
           "get_preset", "inspect_checkpoint", "load_checkpoint", "model_from_preset", "parse_checkpoint_args", "read_any",
           "register_checkpoint", "registered_checkpoint", "register_checkpoints_file"]
