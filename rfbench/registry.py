"""A small validating name -> object registry, shared by models, samplers, grids, datasets and suites."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import InvalidInputError, UnknownNameError

T = TypeVar("T")
NAME_RULE = "a non-empty string of letters, digits and '_.+-'"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
MAX_NAME = 120  # names go into file names (cache files, cell records); keeps them under the 255-byte limit


def is_valid_name(name: object) -> bool:
    """Registry names: start with a letter or digit, then letters, digits and '_.+-' (no separators,
    no '..' at the start, no spaces), so every file name built from one stays inside its folder."""
    return isinstance(name, str) and bool(_NAME.match(name)) and len(name) <= MAX_NAME


def check_name(name: object, kind: str = "model") -> str:
    """``name`` if :func:`is_valid_name`, else :class:`InvalidInputError` naming it."""
    if not is_valid_name(name):
        raise InvalidInputError(f"{kind} name {name!r} must be {NAME_RULE}"
                                + (f" (at most {MAX_NAME} characters)" if isinstance(name, str) and len(name) > MAX_NAME else ""))
    return name


class Registry(Generic[T]):
    """Maps names to entries. Names are validated once, at registration, so typos surface early."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        # rfbench.plugins: resolves a name the user gave that is not registered (module:attr, entry points);
        # only get() asks it, never `in`, so names read from files are never imported
        self.resolver = None

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        check_name(name, self.kind)  # an InvalidInputError, a ValueError too
        if name in self._entries and not replace:
            raise InvalidInputError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            entry = self.resolver(name) if self.resolver is not None else None
            if entry is None:
                raise UnknownNameError(self.kind, name, self._entries) from None
            return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self):
        return self._entries.items()
