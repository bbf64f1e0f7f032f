"""Frozen config dataclasses: a component's constructor arguments are its config.

A config is saved beside the component's weights (`config.json`) and in the results store, and is
enough to rebuild the component. Loading rejects unknown keys with the list of valid ones, so that
a misspelled option is an error instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from phenbench.core.errors import ConfigError

C = TypeVar("C")


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as plain JSON-able data (tuples become lists, nested configs dicts)."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"{type(config).__name__} is not a config dataclass")
    return json.loads(json.dumps(dataclasses.asdict(config), default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a config")


def config_from_dict(cls: type[C], data: dict[str, Any] | None, *, where: str = "") -> C:
    """Build `cls` from `data`, converting lists to tuples and nested dicts to nested configs."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        label = where or cls.__name__
        raise ConfigError(
            f"Unknown key(s) {', '.join(repr(k) for k in unknown)} in {label}. "
            f"Valid keys: {', '.join(sorted(fields))}."
        )
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints.get(name), value) for name, value in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid {where or cls.__name__}: {exc}") from None


def _coerce(hint: Any, value: Any) -> Any:
    """Turn JSON/YAML values back into the field's declared type where that is unambiguous."""
    if hint is None or value is None:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            if arm is type(None):
                continue
            try:
                return _coerce(arm, value)
            except (TypeError, ValueError, ConfigError):
                continue
        return value
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return config_from_dict(hint, value, where=hint.__name__)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        if args and len(args) == len(value):
            return tuple(_coerce(a, v) for a, v in zip(args, value))
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def replace_config(config: C, **changes: Any) -> C:
    """`dataclasses.replace` with the same unknown-key check as loading."""
    merged = {**config_to_dict(config), **changes}
    return config_from_dict(type(config), merged)


def save_config(config: Any, path: str | Path) -> None:
    """Write the config as JSON (atomically: a temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def load_config(cls: type[C], path: str | Path) -> C:
    """Read a config written by `save_config`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} is missing: was the checkpoint saved completely?") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid JSON ({exc}); re-save the checkpoint.") from None
    return config_from_dict(cls, data, where=str(path))
