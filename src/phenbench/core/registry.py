"""Lazy registries of named components, filled by plugins.

An entry holds a `"module:attr"` string, not the object, so listing and `--help` import nothing
heavy; the target is imported only when the component is used. A miss answers with the closest
names ("Did you mean: phendiff?").
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from phenbench.core.errors import PhenbenchError, UnknownNameError


@dataclass(frozen=True)
class Registration:
    """One component a plugin offers: a name, where it lives, and one line on what it is."""

    name: str
    target: str
    summary: str = ""

    def __post_init__(self) -> None:
        module, sep, attr = self.target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"target of {self.name!r} must be 'module:attr', got {self.target!r}")


def import_target(target: str) -> Any:
    """Import `module:attr` (attr may be dotted)."""
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Name -> Registration for one kind of component, with the plugin each came from."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Registration] = {}
        self._origin: dict[str, str] = {}

    def add(self, registration: Registration, origin: str) -> None:
        if not isinstance(registration, Registration):
            raise PhenbenchError(
                f"Plugin {origin} registered a {self.kind} as {registration!r}; "
                "return phenbench.core.registry.Registration objects."
            )
        if registration.name in self._entries:
            raise PhenbenchError(
                f"Two plugins register the {self.kind} '{registration.name}': "
                f"{self._origin[registration.name]} and {origin}. Uninstall or rename one."
            )
        self._entries[registration.name] = registration
        self._origin[registration.name] = origin

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Registration]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> Registration:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def origin(self, name: str) -> str:
        self.get(name)
        return self._origin[name]

    def load(self, name: str) -> Any:
        """Import and return the registered object."""
        registration = self.get(name)
        try:
            return import_target(registration.target)
        except (ImportError, AttributeError) as exc:
            raise PhenbenchError(
                f"The {self.kind} '{name}' (from {self._origin[name]}) cannot be imported from "
                f"{registration.target}: {exc}. Reinstall the plugin that provides it."
            ) from exc
