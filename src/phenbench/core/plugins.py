"""Building the plugin manager and the registries it fills.

The manager is built by a function, fresh for every run and every test (no import-time global),
so a test can add or leave out plugins without leaking them into the next one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from phenbench import hookspecs
from phenbench.core.errors import PhenbenchError
from phenbench.core.registry import Registry

if TYPE_CHECKING:
    from phenbench.core.translator import Translator

# Built-ins are registered through the same manager as third-party plugins.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "phenbench.translators.builtin",
    "phenbench.datasets.builtin",
    "phenbench.metrics.builtin",
    "phenbench.report.plugin",
    "phenbench.apply.plugin",
    "phenbench.translators.phenexplain.plugin",
)

ENTRY_POINT_GROUP = hookspecs.PROJECT


def make_plugin_manager(*, entry_points: bool = True, extra: tuple[object, ...] = ()) -> pluggy.PluginManager:
    """A new plugin manager with the built-ins, `extra` plugins and (optionally) entry points.

    Hook implementations whose names match no hook specification raise here, so a misspelled
    `register_translator` fails loudly instead of being ignored.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    for plugin in extra:
        pm.register(plugin)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PhenbenchError(
            f"Plugin {exc.plugin!r} has a hook implementation that matches no phenbench hook: {exc}. "
            f"Valid hooks: {', '.join(_hook_names())}."
        ) from None
    return pm


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("register_"))


@dataclass
class Registries:
    """Everything the plugins registered, by kind."""

    translators: Registry = field(default_factory=lambda: Registry("translator"))
    datasets: Registry = field(default_factory=lambda: Registry("dataset"))
    metrics: Registry = field(default_factory=lambda: Registry("metric"))
    plugins: dict[str, str] = field(default_factory=dict)  # plugin name -> version


def collect_registries(pm: pluggy.PluginManager) -> Registries:
    """Ask every plugin for its translators, datasets and metrics."""
    registries = Registries()
    for kind in ("translators", "datasets", "metrics"):
        caller = getattr(pm.hook, f"register_{kind}")
        registry: Registry = getattr(registries, kind)
        for impl in caller.get_hookimpls():
            for registration in impl.function() or []:
                registry.add(registration, origin=impl.plugin_name)
    for name, plugin in pm.list_name_plugin():
        registries.plugins[name] = _plugin_version(pm, plugin, name)
    return registries


def _plugin_version(pm: pluggy.PluginManager, plugin: object, name: str) -> str:
    for dist_plugin, dist in pm.list_plugin_distinfo():
        if dist_plugin is plugin:
            return f"{dist.project_name} {dist.version}"
    if name.startswith("phenbench."):
        from phenbench import __version__

        return f"phenbench {__version__} (built-in)"
    return "unknown"


def load_registries(*, entry_points: bool = True, extra: tuple[object, ...] = ()) -> Registries:
    """Build a fresh plugin manager and collect its registries."""
    return collect_registries(make_plugin_manager(entry_points=entry_points, extra=extra))


def load_translator(checkpoint: Path, device: str = "cpu", registries: Registries | None = None,
                    name: str | None = None, settings: dict[str, Any] | None = None) -> "Translator":
    """The translator saved in `checkpoint`, whatever its kind; or, with `name`, that translator
    loading it (e.g. `phenex-wplus` a `phenex-w` model: the same generator, projected into W+).
    `settings`: new values for its translation settings (others must equal the saved ones)."""
    from phenbench.core.loaded_model import settings_for_loaded_model
    from phenbench.core.translator import read_manifest

    name = name or read_manifest(checkpoint)["translator"]
    registries = registries or load_registries()
    translator_cls = registries.translators.load(name)
    changed = settings_for_loaded_model(translator_cls, str(checkpoint), settings or {})
    translator = translator_cls.load(checkpoint, device=device, settings=changed)
    if hasattr(translator, "eval"):
        translator.eval()
    return translator
