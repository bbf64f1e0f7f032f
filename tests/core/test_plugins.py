"""The plugin manager, the lazy registries and the did-you-mean answers."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from phenbench import hookimpl, hookspecs
from phenbench.core.errors import PhenbenchError, UnknownNameError
from phenbench.core.plugins import DEFAULT_PLUGINS, load_registries, make_plugin_manager
from phenbench.core.registry import Registration


class ExtraTranslatorPlugin:
    @hookimpl
    def register_translators(self):
        return [Registration("reverse", "phenbench.translators.identity.translator:IdentityTranslator", "test")]


class MisspelledPlugin:
    @hookimpl
    def register_translator(self):  # missing the "s": must not be silently ignored
        return []


def test_builtins_are_registered_through_the_plugin_manager() -> None:
    pm = make_plugin_manager(entry_points=False)
    names = {name for name, _ in pm.list_name_plugin()}
    assert set(DEFAULT_PLUGINS) <= names
    registries = load_registries(entry_points=False)
    assert "identity" in registries.translators
    assert "synthetic" in registries.datasets
    assert "counterfactual" in registries.metrics


def test_each_manager_is_fresh() -> None:
    with_extra = load_registries(entry_points=False, extra=(ExtraTranslatorPlugin(),))
    assert "reverse" in with_extra.translators
    assert with_extra.translators.origin("reverse") != "phenbench.translators.builtin"
    assert "reverse" not in load_registries(entry_points=False).translators


def test_misspelled_hook_fails_loudly() -> None:
    with pytest.raises(PhenbenchError, match="register_translator.*Valid hooks: register_commands"):
        make_plugin_manager(entry_points=False, extra=(MisspelledPlugin(),))


def test_unknown_name_suggests_the_closest() -> None:
    registries = load_registries(entry_points=False, extra=(ExtraTranslatorPlugin(),))
    with pytest.raises(UnknownNameError) as info:
        registries.translators.get("identiy")
    assert str(info.value) == "Unknown translator 'identiy'. Did you mean: identity?"
    with pytest.raises(UnknownNameError, match="Unknown dataset 'zzz'. Known: "):
        registries.datasets.get("zzz")


def test_duplicate_names_are_refused() -> None:
    class Clash:
        @hookimpl
        def register_translators(self):
            return [Registration("identity", "x:y")]

    with pytest.raises(PhenbenchError, match="Two plugins register the translator 'identity'"):
        load_registries(entry_points=False, extra=(Clash(),))


def test_registration_targets_are_module_attr_strings() -> None:
    with pytest.raises(ValueError, match="module:attr"):
        Registration("bad", "no_colon_here")


def test_every_hook_is_documented_and_tested() -> None:
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")]
    assert sorted(hooks) == ["register_commands", "register_datasets", "register_metrics", "register_translators"]
    this_file = inspect.getsource(sys.modules[__name__])
    for hook in hooks:
        assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"{hook} has no docstring"
    # register_commands is exercised in tests/cli; the others here and in test_example_plugin.
    assert "register_translators" in this_file


def test_listing_and_help_import_no_torch() -> None:
    code = (
        "import sys; from phenbench.cli import build_cli; from click.testing import CliRunner;"
        "r = CliRunner().invoke(build_cli(), ['list']); assert r.exit_code == 0, r.output;"
        "r = CliRunner().invoke(build_cli(), ['--help']); assert r.exit_code == 0, r.output;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
