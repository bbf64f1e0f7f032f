"""The whole plugin contract of phenbench.

A plugin is a module (or object) with functions named after these hooks and decorated with
`phenbench.hookimpl`. Built-in translators, datasets and metrics are plugins of exactly this kind;
third-party packages are found through the `phenbench` entry-point group. See
docs/writing_plugins.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from phenbench.core.registry import Registration

PROJECT = "phenbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_translators() -> list[Registration]:
    """Return Registrations of Translator subclasses (target 'module:Class')."""


@hookspec
def register_datasets() -> list[Registration]:
    """Return Registrations of dataset adapters (target 'module:Adapter')."""


@hookspec
def register_metrics() -> list[Registration]:
    """Return Registrations of Metric subclasses (target 'module:Class')."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the `phenbench` command line."""
