"""One registry style for every named thing hslib can pick by name: models, methods, datasets, corruptions,
executors and panel renderers.

A `Registry` maps a name to an entry (a small frozen record of the thing's metadata, or the callable itself).
Entries are validated when they are added, never when they are used, and asking for an unknown name raises one
error that names the kind and every allowed value. It is a leaf module: it imports nothing of hslib.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping


class UnknownName(KeyError, ValueError):
    """An unknown registry name; a ValueError for callers validating input, a KeyError for mapping code."""

    def __str__(self):
        return self.args[0]


class Registry(Mapping):
    """name -> entry, in registration order. `check(name, entry)` raises ValueError on a bad entry."""

    NAME = re.compile(r"[a-z][a-z0-9_]*")

    def __init__(self, kind: str, check: Callable | None = None):
        self.kind = kind
        self._check = check
        self._entries: dict = {}

    def add(self, name: str, entry, replace: bool = False):
        """Register `entry` under `name`; returns the entry. Re-registering a name needs `replace=True`."""
        if not isinstance(name, str) or not self.NAME.fullmatch(name):
            raise ValueError(f"{self.kind} name {name!r} is not allowed; allowed: lower-case letters, digits and _, "
                             "starting with a letter")
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is registered already; pass replace=True to replace it")
        if self._check is not None:
            self._check(name, entry)
        self._entries[name] = entry
        return entry

    def remove(self, name: str):
        """Take a name out again (a temporary registration, e.g. while a user's method is checked)."""
        self._entries.pop(name, None)

    def __getitem__(self, name):
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownName(f"{self.kind}={name!r} is not known; allowed values: {list(self._entries)}") from None

    def __contains__(self, name) -> bool:
        try:
            return name in self._entries
        except TypeError:  # an unhashable name is simply not registered
            return False

    def get(self, name, default=None):
        return self._entries[name] if name in self else default

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
