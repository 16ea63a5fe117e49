"""What a number depends on, as a hash: the one home of rfbench's fingerprints.

Every cache key and cell record is a hash of everything its content depends on. Most inputs are
plain configuration (:func:`config_hash`); the rest is code and weights a user hands over:

* :func:`module_digest`: an ``nn.Module`` by its parameters and buffers (name, dtype, shape, bytes),
  its submodules' classes and their plain settings (a ``Dropout``'s ``p``);
* :func:`function_digest`: a Python function by its bytecode (not its text: comments and moves do not
  count), defaults, closure and the globals it reads, each digested by value (numbers, tensors,
  modules, other functions, objects whose attributes are all digestible). A library function (the
  standard library, site-packages, rfbench) is identified by its qualified name and its package's
  version; its code is not read.

What cannot be identified (an object of a library class with hidden state, a ``torch.Generator``,
an object array, a structure too large to walk) raises :class:`CannotFingerprint` with the reason;
callers then do not cache (``not cached: <reason>``) rather than guess.

This module imports nothing from rfbench, so every layer can use it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import math
import os
import site
import sys
import sysconfig
import types
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_OBJECTS = 5000  # a function reaching more objects than this is not walked (reported, not cached)


class CannotFingerprint(Exception):
    """Something whose content cannot be hashed; ``str(exc)`` says what and where."""


# -- plain configuration ------------------------------------------------------------------------------
def canonical(obj: Any) -> Any:
    """``obj`` as JSON-able data with a stable order (dict keys sorted, tuples as lists, NaN as "nan").

    Tensors are hashed by their bytes (not dtype or shape: existing cache keys depend on it); dataclasses
    by their fields; callables by :func:`function_digest`. An object whose only description is its
    address (``<... at 0x...>``) raises :class:`CannotFingerprint`: it would key a cache by chance.
    """
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return "nan"
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return hashlib.sha256(_tensor_bytes(obj)).hexdigest()
    if isinstance(obj, np.generic):
        return canonical(obj.item())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"dataclass": type(obj).__qualname__,
                "fields": canonical({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})}
    if callable(obj) and not isinstance(obj, (type, enum.Enum)):
        return {"callable": function_digest(obj)}
    text = repr(obj)
    if " at 0x" in text:
        raise CannotFingerprint(f"a {type(obj).__name__} object has no stable description ({text[:60]})")
    return text


def config_hash(obj: Any, length: int = 16) -> str:
    """A stable short hash of a JSON-like configuration (see :func:`canonical`)."""
    text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file, read in chunks (a checkpoint of 220 MB hashes in about 0.3 s on one core)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# -- tensors and modules ------------------------------------------------------------------------------
def _tensor_bytes(t: torch.Tensor) -> bytes | memoryview:
    if t.is_meta or t.is_quantized or t.layout != torch.strided:
        raise CannotFingerprint(f"a {t.layout} / meta / quantized tensor cannot be hashed")
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else b""


def tensor_digest(t: torch.Tensor) -> str:
    """sha256 of a tensor's dtype, shape and bytes."""
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(_tensor_bytes(t))
    return h.hexdigest()


def module_digest(module: nn.Module, *, skip: frozenset[str] | set[str] = frozenset()) -> str:
    """sha256 of a module's content: every parameter and buffer by name (dtype, shape, bytes), every
    submodule's class and settings (all of them for users' classes; numbers, strings and flags for
    library classes, whose state lives in tensors). ``skip``: the root's attributes left out (a
    FlowModel describes those by ``config()``). 55 M float32 parameters take about 0.3 s on one core."""
    return _Walker().module(module, skip=frozenset(skip))


def code_identity(fn: Any) -> str:
    """rfbench's own functions by name (every cell record's code hash covers their code), anyone else's
    by :func:`function_digest`."""
    module = getattr(fn, "__module__", "") or ""
    if module.split(".")[0] == "rfbench":
        return f"rfbench:{module}.{getattr(fn, '__qualname__', type(fn).__name__)}"
    return function_digest(fn)


def function_digest(fn: Any) -> str:
    """sha256 of what a callable computes (see the module docstring); raises :class:`CannotFingerprint`."""
    return _Walker().digest(fn, getattr(fn, "__qualname__", type(fn).__name__))


# -- code from libraries ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # virtualenvs of old versions
        pass
    roots.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else "")
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots if r))


@functools.lru_cache(maxsize=4096)
def _library_module(modname: str | None) -> str | None:
    """The version tag of the library that defines module ``modname``, or None for users' code.

    rfbench's own code is tagged "rfbench" without its code hash: disk caches are versioned by explicit
    constants (a reference solution does not change when a docstring does), and cell records carry the
    code hash separately."""
    if not modname or modname == "__main__":
        return None
    top = modname.split(".")[0]
    if top == "rfbench":
        return "rfbench"
    for name in (modname, top):
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            if os.path.realpath(file).startswith(_library_roots()):
                return f"{top} {getattr(sys.modules.get(top), '__version__', '')}".strip()
            return None
    if top in sys.builtin_module_names or modname in sys.builtin_module_names:
        return f"{top} builtin"
    return None


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """sha256 (16 hex) over rfbench's own source files: changes whenever the code does, commit or not."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# -- the walker -------------------------------------------------------------------------------------
# rfbench classes are identified by their qualified name. Classes that moved between modules keep the
# name they had when their fingerprints first keyed caches (BOSS calibrations, FlowTurbo refiners), so
# a move does not invalidate those caches: {current name: name in fingerprints}.
FORMER_NAMES = {
    **{f"rfbench.models.nets.unet.{n}": f"rfbench.models.unet.{n}" for n in ("ResBlock", "Attention", "UNet")},
    "rfbench.models.nets.mlp.MLP": "rfbench.models.networks.MLP",
    "rfbench.models.nets.time.FourierTime": "rfbench.models.networks.FourierTime",
    "rfbench.models.families.NetworkFlow": "rfbench.models.rectified_flow.NetworkFlow",
    "rfbench.training.boss.RedressedFlow": "rfbench.samplers.boss.RedressedFlow",
    "rfbench.models.nets.refiner.VectorRefiner": "rfbench.samplers.flowturbo.VectorRefiner",
    "rfbench.models.nets.refiner.ConvRefiner": "rfbench.samplers.flowturbo.ConvRefiner",
}
_MODULE_PRIVATE = {"training"}
_CLASS_BOOKKEEPING = {"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "__annotations__",
                      "__dataclass_fields__", "__dataclass_params__", "__match_args__", "__firstlineno__",
                      "__static_attributes__", "__parameters__", "__orig_bases__", "__abstractmethods__", "_abc_impl",
                      "__annotate__", "__annotate_func__", "__annotations_cache__"}
_SIMPLE = (str, int, float, bool, type(None))


class _Walker:
    """Turns a value into JSON-able tokens, digesting tensors, modules and code by content."""

    def __init__(self):
        self.stack: set[int] = set()
        self.count = 0

    def digest(self, obj: Any, where: str) -> str:
        text = json.dumps(self.token(obj, where), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def token(self, obj: Any, where: str) -> Any:
        self.count += 1
        if self.count > MAX_OBJECTS:
            raise CannotFingerprint(f"{where}: reaches more than {MAX_OBJECTS} objects")
        if isinstance(obj, float) and math.isnan(obj):
            return "nan"
        if isinstance(obj, _SIMPLE):
            return obj
        if isinstance(obj, (bytes, bytearray)):
            return {"bytes": sha256_bytes(bytes(obj))}
        if isinstance(obj, (list, tuple, set, frozenset)):
            items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
            return {type(obj).__name__: [self.token(v, f"{where}[{i}]") for i, v in enumerate(items)]}
        if isinstance(obj, dict):
            return {"dict": [[self.token(k, where), self.token(v, f"{where}[{k!r}]")]
                             for k, v in sorted(obj.items(), key=lambda kv: repr(kv[0]))]}
        if isinstance(obj, torch.Tensor):
            return {"tensor": tensor_digest(obj)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise CannotFingerprint(f"{where}: an object array")
            return {"array": f"{obj.dtype}{obj.shape}", "sha": sha256_bytes(np.ascontiguousarray(obj).tobytes())}
        if isinstance(obj, np.generic):
            return self.token(obj.item(), where)
        if isinstance(obj, (torch.dtype, torch.device, enum.Enum)):
            return {type(obj).__name__: str(obj)}
        if isinstance(obj, types.ModuleType):
            return {"module": obj.__name__, "lib": _library_module(obj.__name__) or "user"}
        key = id(obj)
        if key in self.stack:  # recursion (a function calling itself, a module referring to its parent)
            return {"recursive": getattr(obj, "__qualname__", type(obj).__name__)}
        self.stack.add(key)
        try:
            return self._compound(obj, where)
        finally:
            self.stack.discard(key)

    def _compound(self, obj: Any, where: str) -> Any:
        if isinstance(obj, nn.Module):
            return {"nn.Module": self.module(obj)}
        if isinstance(obj, type):
            return self.cls(obj, where)
        if isinstance(obj, functools.partial):
            return {"partial": [self.token(obj.func, where), self.token(obj.args, where),
                                self.token(obj.keywords, where)]}
        if isinstance(obj, types.MethodType):
            return {"method": [self.token(obj.__func__, where), self.token(obj.__self__, f"{where}.__self__")]}
        if isinstance(obj, types.FunctionType):
            return self.function(obj, where)
        if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType, np.ufunc)) or (
                callable(obj) and type(obj).__module__ in ("builtins", "torch._ops", "torch._C")):
            owner = getattr(obj, "__self__", None)
            name = f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"
            token = {"builtin": name}
            if owner is not None and not isinstance(owner, types.ModuleType) and not isinstance(owner, type):
                token["self"] = self.token(owner, f"{where}.__self__")
            return token
        if dataclasses.is_dataclass(obj):
            return {"dataclass": self.cls(type(obj), where),
                    "fields": {f.name: self.token(getattr(obj, f.name), f"{where}.{f.name}")
                               for f in dataclasses.fields(obj)}}
        lib = _library_module(type(obj).__module__)
        if lib == "rfbench" and callable(getattr(obj, "config", None)):  # schedules, priors: described by config()
            return {"rfbench": f"{type(obj).__module__}.{type(obj).__qualname__}", "config": canonical(obj.config())}
        if lib is not None or not hasattr(obj, "__dict__") or hasattr(type(obj), "__slots__"):
            raise CannotFingerprint(f"{where} holds a {type(obj).__module__}.{type(obj).__qualname__} object, "
                                    "whose content cannot be hashed")
        return {"object": self.cls(type(obj), where), "state": self.token(vars(obj), f"{where}.__dict__")}

    def cls(self, c: type, where: str) -> Any:
        lib = _library_module(c.__module__)
        name = f"{c.__module__}.{c.__qualname__}"
        name = FORMER_NAMES.get(name, name)
        if lib is not None:
            return {"class": name, "lib": lib}
        body: dict[str, Any] = {}
        for k, v in sorted(vars(c).items()):
            if k in _CLASS_BOOKKEEPING:
                continue
            if isinstance(v, property):
                body[k] = [self.token(f, f"{name}.{k}") for f in (v.fget, v.fset) if f is not None]
            elif isinstance(v, (staticmethod, classmethod)):
                body[k] = self.token(v.__func__, f"{name}.{k}")
            else:
                body[k] = self.token(v, f"{name}.{k}")
        bases = [self.token(b, name) for b in c.__bases__ if b is not object]
        return {"class": name, "body": body, "bases": bases}

    def code(self, co: types.CodeType) -> Any:
        consts = [self.code(c) if isinstance(c, types.CodeType) else self.token(c, co.co_name) for c in co.co_consts]
        return [co.co_code.hex(), consts, list(co.co_names), list(co.co_varnames), list(co.co_freevars),
                list(co.co_cellvars), co.co_argcount, co.co_kwonlyargcount, co.co_flags]

    def function(self, fn: types.FunctionType, where: str) -> Any:
        lib = _library_module(fn.__module__)
        if lib is not None:
            return {"function": f"{fn.__module__}.{fn.__qualname__}", "lib": lib}
        co = fn.__code__
        token: dict[str, Any] = {"code": self.code(co)}
        if fn.__defaults__:
            token["defaults"] = self.token(fn.__defaults__, f"{where} (defaults)")
        if fn.__kwdefaults__:
            token["kwdefaults"] = self.token(fn.__kwdefaults__, f"{where} (defaults)")
        if fn.__closure__:
            cells = {}
            for name, cell in zip(co.co_freevars, fn.__closure__):
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell (a name assigned later)
                    value = "<empty>"
                cells[name] = self.token(value, f"{where} (closure {name!r})")
            token["closure"] = cells
        globs = {}
        builtins = fn.__globals__.get("__builtins__", {})
        builtins = vars(builtins) if isinstance(builtins, types.ModuleType) else builtins
        for name in sorted(_global_names(co)):
            if name in fn.__globals__:
                globs[name] = self.token(fn.__globals__[name], f"{where} (global {name!r})")
            elif name not in builtins:
                globs[name] = "<unbound>"
        token["globals"] = globs
        return token

    def module(self, module: nn.Module, *, skip: frozenset[str] = frozenset()) -> str:
        h = hashlib.sha256()
        for prefix, sub in module.named_modules(remove_duplicate=False):
            h.update(f"module {prefix}\n".encode())
            h.update(json.dumps(self.cls(type(sub), prefix or "module"), sort_keys=True).encode())
            user = _library_module(type(sub).__module__) is None
            attrs = {}
            for k, v in sorted(vars(sub).items()):
                if k.startswith("_") or k in _MODULE_PRIVATE or (sub is module and k in skip):
                    continue
                if isinstance(v, _SIMPLE) or isinstance(v, (tuple, list)) and all(isinstance(x, _SIMPLE) for x in v):
                    attrs[k] = self.token(v, f"{prefix}.{k}")
                elif user:  # a user's module: every setting counts; libraries keep their state in tensors
                    attrs[k] = self.token(v, f"{prefix or type(sub).__name__}.{k}")
            h.update(json.dumps(attrs, sort_keys=True).encode())
            for kind, named in (("param", sub.named_parameters(recurse=False)), ("buffer", sub.named_buffers(recurse=False))):
                for name, t in named:
                    if t is None:
                        continue
                    h.update(f"{kind} {prefix}.{name} {t.dtype} {tuple(t.shape)}\n".encode())
                    h.update(_tensor_bytes(t))
        return h.hexdigest()


def _global_names(co: types.CodeType) -> set[str]:
    """Names a code object (and the code nested in it) may read from its globals."""
    names = set(co.co_names)
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


# -- per-process memo ---------------------------------------------------------------------------------
_MEMO: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()


def memo_for(obj: Any) -> dict:
    """A dict that lives as long as ``obj`` (a model): the per-process memo of work done for it once
    (BOSS calibrations, FlowTurbo refiners, compiled forwards), so later ``sample()`` calls pay nothing
    for it and ``wall_clock_s`` stays sampling time only."""
    if obj not in _MEMO:
        _MEMO[obj] = {}
    return _MEMO[obj]

