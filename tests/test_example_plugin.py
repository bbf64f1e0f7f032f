"""The example plugin is a real external package: install it and find it through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "examples" / "phenbench-example-plugin"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """The plugin installed with pip into a folder of its own (kept off the shared environment)."""
    import shutil

    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # pip builds in-tree
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )
    return target


def phenbench(args: list[str], plugin_path: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    return subprocess.run([sys.executable, "-m", "phenbench.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_list_shows_the_entry_point_plugin(plugin_path: Path, tmp_path: Path) -> None:
    listed = phenbench(["list"], plugin_path, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "channel-shift" in listed.stdout
    assert "[example]" in listed.stdout  # translators from outside phenbench name their plugin
    assert "phenbench-example-plugin 0.1.0" in listed.stdout


def test_run_uses_the_plugin_translator(plugin_path: Path, tmp_path: Path) -> None:
    ran = phenbench(
        ["run", "--translator", "channel-shift", "--dataset", "synthetic", "--quiet",
         "--metrics", "counterfactual", "--store", str(tmp_path / "r.h5")],
        plugin_path, tmp_path,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "channel-shift" in ran.stdout and "counterfactual/mse" in ran.stdout


def test_without_the_plugin_the_name_is_unknown(tmp_path: Path) -> None:
    ran = subprocess.run([sys.executable, "-m", "phenbench.cli", "run", "--translator", "channel-shif"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert ran.returncode == 2
    assert "Unknown translator 'channel-shif'" in ran.stderr
    assert "Traceback" not in ran.stderr
