"""A restricted reader for pickles written through EDM's ``torch_utils.persistence`` (EDM's and PFGM++'s
``.pkl`` snapshots, PFGM++'s and EDM's ``training-state-*.pt``) that never executes code from the file.

In those files every network module is pickled as a call of ``torch_utils.persistence.
_reconstruct_persistent_obj(meta)``, where ``meta`` holds the *source code* of the defining module
(``module_src``, which EDM's loader ``exec``s), the class name, and the instance state: the module's
``__dict__`` with ``_parameters``, ``_buffers``, ``_modules`` and the recorded constructor arguments
``_init_args`` / ``_init_kwargs``. Torch containers between them (``ModuleDict``) are pickled as plain
class instances; EDM's ``dnnlib.util.EasyDict`` as a dict subclass; tensors through torch's rebuild
functions (storages inline via ``torch.storage._load_from_bytes`` in a plain pickle, or as persistent
ids in a torch zip file); numpy scalars (e.g. ``skip_scale = np.sqrt(0.5)``) through
``numpy.core.multiarray.scalar``.

:class:`RestrictedUnpickler` resolves exactly these globals, each to a function of rfbench's own that
only records data (:class:`PersistentRecord`, :class:`ModuleRecord`) or rebuilds a tensor; the source
code is kept as text and never executed; no module is imported. Any other global (a function, a class,
``os.system``, ...) raises :class:`UnsafePickleError` naming it, before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import collections
import hashlib
import io
import pickle
import types
import warnings
from typing import Any

import numpy as np
import torch


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle refers to a global that the restricted reader does not accept."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class PersistentRecord:
    """What EDM's persistence hook would have rebuilt, kept as data: the class name, the state
    (the instance ``__dict__``), and the sha256 of the embedded source code (never executed)."""

    def __init__(self, meta: dict):
        if not isinstance(meta, dict) or meta.get("type") != "class" or "class_name" not in meta:
            raise pickle.UnpicklingError("malformed torch_utils.persistence record (expected type 'class' and a class_name)")
        self.class_name = str(meta["class_name"])
        self.version = meta.get("version")
        src = meta.get("module_src") or ""
        self.module_src_sha256 = hashlib.sha256(src.encode() if isinstance(src, str) else bytes(src)).hexdigest()
        self.module_src_chars = len(src)
        state = meta.get("state")
        self.state: dict = dict(state) if isinstance(state, dict) else {}

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name})"


class ModuleRecord:
    """A plain torch container (ModuleDict, ModuleList, Sequential) inside a persistence pickle, kept as
    its class name and state; nothing of torch's class is instantiated."""

    torch_class = "torch.nn.Module"
    dump_patches = False  # read by torch's legacy-format loader when it meets a module class; patches are never written

    def __new__(cls, *args, **kwargs):  # pickle's NEWOBJ calls only __new__
        obj = super().__new__(cls)
        obj.state = {}
        return obj

    def __setstate__(self, state):
        self.state = dict(state) if isinstance(state, dict) else {}

    @property
    def class_name(self) -> str:
        return self.torch_class.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return f"ModuleRecord({self.torch_class})"


def _module_record_class(path: str) -> type:
    return type("ModuleRecord", (ModuleRecord,), {"torch_class": path})


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access); items only."""

    def __setstate__(self, state):
        pass


class NumpyDType:
    """Stand-in for ``numpy.dtype`` inside a pickle: the type code and byte order, checked to be numeric."""

    NUMERIC = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"}

    def __init__(self, code, align=False, copy=True):
        if str(code) not in self.NUMERIC:
            raise pickle.UnpicklingError(f"numpy dtype {code!r} is not a numeric scalar type")
        self.code, self.order = str(code), "<"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.order = state[1] if state[1] != "=" else "<"

    def numpy(self) -> np.dtype:
        return np.dtype(("|" if self.code in ("b1", "i1", "u1") else self.order) + self.code)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, NumpyDType) or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("numpy scalar with an unexpected dtype or payload")
    return np.frombuffer(bytes(data), dtype=dtype.numpy(), count=1)[0]


def _codecs_encode(text, encoding="latin1"):
    # pickle protocol 2 writes bytes (a numpy scalar's payload) as _codecs.encode(str, 'latin1')
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is accepted only as protocol 2's bytes encoding")
    return text.encode("latin1")


def _no_hooks(hooks) -> None:
    if hooks:
        raise pickle.UnpicklingError("tensor with backward hooks")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    _no_hooks(backward_hooks)
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError(f"tensor rebuild from a {type(storage).__name__}, expected a torch storage")
    return torch._utils._rebuild_tensor_v2(storage, int(storage_offset), tuple(size), tuple(stride), False,
                                           collections.OrderedDict())


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    _no_hooks(backward_hooks)
    if not isinstance(data, torch.Tensor) or state:
        raise pickle.UnpicklingError("parameter rebuild from something other than a plain tensor")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _load_from_bytes(payload):
    # a storage pickled on its own: torch's legacy format, read by torch's weights-only unpickler
    if not isinstance(payload, (bytes, bytearray)):
        raise pickle.UnpicklingError("torch.storage._load_from_bytes without a bytes payload")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation
        return torch.load(io.BytesIO(bytes(payload)), map_location="cpu", weights_only=True)


def _torch_size(dims=()):
    return torch.Size(tuple(int(d) for d in dims))


def _torch_device(spec="cpu", index=None):
    return torch.device("cpu")  # everything is read onto the CPU


ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentRecord,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch", "Size"): _torch_size,
    ("torch", "device"): _torch_device,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): NumpyDType,
}
for _cls in ("ModuleDict", "ModuleList", "Sequential"):
    ALLOWED[("torch.nn.modules.container", _cls)] = _module_record_class(f"torch.nn.modules.container.{_cls}")
for _name in dir(torch):
    if isinstance(getattr(torch, _name, None), torch.dtype):
        ALLOWED[("torch", _name)] = getattr(torch, _name)  # dtype objects: data, not callables


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in :data:`ALLOWED`; anything else raises :class:`UnsafePickleError`."""

    def find_class(self, module: str, name: str):
        # protocol 0-2 pickles name Python 2 modules (__builtin__.set); map them as pickle itself does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(str(module), str(name)) from None


def restricted_load(f, **kwargs):
    return RestrictedUnpickler(f, **kwargs).load()


# ``torch.load(..., pickle_module=pickle_module, weights_only=False)``: torch reads the zip container and
# the storages; every global of the data pickle other than torch's storage classes goes through
# RestrictedUnpickler.find_class.
pickle_module = types.SimpleNamespace(__name__="rfbench_restricted_pickle", Unpickler=RestrictedUnpickler,
                                      load=restricted_load, UnpicklingError=pickle.UnpicklingError)


def read_pickle(path) -> Any:
    """A plain pickle file (EDM's ``.pkl``) through the restricted unpickler."""
    with open(path, "rb") as f:
        return RestrictedUnpickler(f).load()


def read_torch_file(path) -> Any:
    """A ``torch.save`` file whose pickle holds persistence records (PFGM++'s ``training-state-*.pt``),
    through the restricted unpickler."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=pickle_module)


# -- records -> state dict -----------------------------------------------------------------------------


def record_children(rec) -> dict:
    """Sub-modules of a record (name -> record or None), in stored order."""
    mods = rec.state.get("_modules") or {}
    return dict(mods) if isinstance(mods, dict) else {}


def flatten_state(rec, prefix: str = "") -> dict[str, torch.Tensor]:
    """The ``state_dict`` a module built from ``rec`` would have: parameters and persistent buffers of
    the record and of its sub-modules, with dotted names."""
    out: dict[str, torch.Tensor] = {}
    params = rec.state.get("_parameters") or {}
    buffers = rec.state.get("_buffers") or {}
    skip = set(rec.state.get("_non_persistent_buffers_set") or ())
    for name, value in list(params.items()) + [(k, v) for k, v in buffers.items() if k not in skip]:
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            raise pickle.UnpicklingError(f"{prefix}{name} is a {type(value).__name__}, expected a tensor")
        out[prefix + name] = value.detach()
    for name, child in record_children(rec).items():
        if child is None:
            continue
        if not isinstance(child, (PersistentRecord, ModuleRecord)):
            raise pickle.UnpicklingError(f"sub-module {prefix}{name} is a {type(child).__name__}")
        out.update(flatten_state(child, f"{prefix}{name}."))
    return out


def find_records(obj, path: str = "") -> dict[str, PersistentRecord]:
    """Top-level persistence records of a loaded object (a dict of records, or a record), by key."""
    if isinstance(obj, PersistentRecord):
        return {path or "<root>": obj}
    if isinstance(obj, dict):
        return {str(k): v for k, v in obj.items() if isinstance(v, PersistentRecord)}
    return {}
