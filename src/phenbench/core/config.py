"""Frozen config dataclasses: a component's constructor arguments are its config.

A config is saved beside the component's weights (`config.json`) and in the results store, and is
enough to rebuild the component. Loading rejects unknown keys with the list of valid ones, so that
a misspelled option is an error instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
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
    """Build `cls` from `data`, converting lists to tuples and nested dicts to nested configs.

    Every value is checked against its field's type first, so a wrong type is a ConfigError that
    names the field ("steps must be an integer, got 'abc'"), not a TypeError deep inside a fit.
    """
    label = where or cls.__name__
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{label} must be a mapping of options (key: value), got {_show(data)}.")
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {', '.join(repr(k) for k in unknown)} in {label}. "
            f"Valid keys: {', '.join(sorted(fields))}."
        )
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints.get(name), value, name, label) for name, value in data.items()}
    try:
        return cls(**values)
    except ConfigError as exc:  # a value check of the config itself: say which config it was
        raise ConfigError(f"{label}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid {label}: {exc}") from None


def coerce_fields(config: Any, where: str) -> None:
    """Check (and convert, as `config_from_dict` does) every field of a frozen config in place.

    For configs also built directly in Python (RunConfig): call it from `__post_init__`.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = _coerce(hints.get(f.name), getattr(config, f.name), f.name, where)
        object.__setattr__(config, f.name, value)


def _coerce(hint: Any, value: Any, name: str, where: str) -> Any:
    """`value` as the declared type `hint` (lists to tuples, YAML's '1e-4' to a float, dicts to
    nested configs), or a ConfigError naming the field `name`."""
    if hint is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [arm for arm in args if arm is not type(None)]
        if len(arms) == 1:  # `X | None`: a nested X's own error names the field best
            try:
                return _coerce(arms[0], value, name, where)
            except ConfigError:
                if dataclasses.is_dataclass(arms[0]) or typing.get_origin(arms[0]) in (tuple, list, dict):
                    raise
                raise _wrong(hint, value, name, where) from None
        for arm in arms:
            try:
                return _coerce(arm, value, name, where)
            except ConfigError:
                continue
        raise _wrong(hint, value, name, where)
    if origin is typing.Literal:
        if value in args:
            return value
        raise _wrong(hint, value, name, where)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, dict):
            return config_from_dict(hint, value, where=f"{where}: {name}")
        raise _wrong(hint, value, name, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _wrong(hint, value, name, where)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis) and len(args) != len(value):
            raise _wrong(hint, value, name, where)
        if origin is list or not args or args[-1] is Ellipsis:
            arms = [args[0] if args else Any] * len(value)
        else:  # a fixed-length tuple: its length was checked above
            arms = list(args)
        items = [_coerce(arm, v, f"{name}[{i}]", where) for i, (arm, v) in enumerate(zip(arms, value))]
        return tuple(items) if origin is tuple else list(items)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _wrong(hint, value, name, where)
        key_hint, value_hint = args or (Any, Any)
        return {_coerce(key_hint, k, f"{name} key", where): _coerce(value_hint, v, f"{name}.{k}", where)
                for k, v in value.items()}
    if hint is bool:
        if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
            return bool(value)
        raise _wrong(hint, value, name, where)
    if hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        raise _wrong(hint, value, name, where)
    if hint is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads `lr: 1e-4` as the string '1e-4'
            try:
                number = float(value)
            except ValueError:
                raise _wrong(hint, value, name, where) from None
            if math.isfinite(number):
                return number
        raise _wrong(hint, value, name, where)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _wrong(hint, value, name, where)
    if hint in (Path, os.PathLike) or (isinstance(hint, type) and issubclass(hint, Path)):
        if isinstance(value, (str, os.PathLike)):
            return value
        raise _wrong(hint, value, name, where)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _wrong(hint, value, name, where)
    return value


def _wrong(hint: Any, value: Any, name: str, where: str) -> ConfigError:
    return ConfigError(f"{where}: {name} must be {describe_type(hint)}, got {_show(value)}.")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_type(hint: Any) -> str:
    """A type annotation in words: 'an integer', 'a list of strings', 'a number or null'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        words = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(words + (["null"] if type(None) in args else []))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is bool:
        return "true or false"
    noun = _noun(hint, plural=False)
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _noun(hint: Any, plural: bool) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    ending = "s" if plural else ""
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"list{ending} of {len(args)} values"
        return f"list{ending} of " + (_noun(args[0], plural=True) if args else "values")
    if origin is dict or hint is dict:
        return f"mapping{ending} (key: value)"
    if dataclasses.is_dataclass(hint):
        return f"mapping{ending} of {hint.__name__} options"
    if hint is bool:
        return f"boolean{ending}"
    if origin is not None:  # unions and literals inside a list
        return describe_type(hint)
    names = {int: "integer", float: "number", str: "string", Path: "path"}
    return names.get(hint, getattr(hint, "__name__", str(hint))) + ending


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
