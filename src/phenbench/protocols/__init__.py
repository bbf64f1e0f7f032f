"""Shipped evaluation protocols: a run's options in one YAML file, with the figures published for it.

`phenbench run --protocol NAME` (or `protocol: NAME` in a run config) starts from
`protocols/NAME.yaml`'s `run:` options; a user's run config and flags go on top (the nested
`dataset_config`, `translator_config` and `metric_options` are merged key by key, so overriding one
option keeps the protocol's others). The file's `published:` figures are stored beside the
measured ones (published.py), marked as published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from phenbench.core.errors import ConfigError, UnknownNameError

MERGED_KEYS = ("dataset_config", "translator_config")


@dataclass(frozen=True)
class Protocol:
    """A shipped protocol: its run options and its published figures."""

    name: str
    description: str
    run: dict[str, Any]
    published: dict[str, Any] = field(default_factory=dict)


def protocol_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def load_protocol(name: str) -> Protocol:
    """The shipped protocol `name`, or a clear error naming the known ones."""
    known = protocol_names()
    if name not in known:
        raise UnknownNameError("protocol", name, known)
    data = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text())
    return Protocol(name=name, description=str(data.get("description", "")), run=dict(data.get("run", {})),
                    published=dict(data.get("published") or {}))


def merge_run_options(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `base`: nested configs merged key by key (metric options per metric)."""
    merged = dict(base)
    for key, value in top.items():
        if key in MERGED_KEYS and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        elif key == "metric_options" and isinstance(value, dict) and isinstance(base.get(key), dict):
            options = {k: dict(v) for k, v in base[key].items()}
            for metric, chosen in value.items():
                if not isinstance(chosen, dict):
                    raise ConfigError(f"metric_options.{metric} must be a mapping of options, got {chosen!r}.")
                options[metric] = {**options.get(metric, {}), **chosen}
            merged[key] = options
        else:
            merged[key] = value
    return merged
