"""A small validating name -> object registry, shared by models, samplers, grids, datasets and suites."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import InvalidInputError, UnknownNameError

T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")


class Registry(Generic[T]):
    """Maps names to entries. Names are validated once, at registration, so typos surface early."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInputError(  # a ValueError too
                f"{self.kind} name {name!r} must be a non-empty string of letters, digits and '_.+-'"
            )
        if name in self._entries and not replace:
            raise InvalidInputError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.kind, name, self._entries) from None

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
