"""The command line end to end: run, list, compare, show, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from phenbench import hookimpl
from phenbench.cli import build_cli
from phenbench.core.plugins import make_plugin_manager
from phenbench.core.store import ResultsStore
from tests.core.tiny_plugins import TinyPlugins


class CommandPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("hello")
        def hello() -> None:
            """Say hello."""
            click.echo("hello from a plugin")


@pytest.fixture
def cli():
    return build_cli(make_plugin_manager(entry_points=False, extra=(TinyPlugins(), CommandPlugin())))


def invoke(cli, args, cwd):
    with CliRunner().isolated_filesystem(temp_dir=cwd):
        return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_run_then_compare_and_show(cli, tmp_path) -> None:
    store = str(tmp_path / "r.h5")
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "--dataset", "tiny", "--store", store, "--quiet", "--eval-seed", "3",
                              "--work-dir", str(tmp_path / "runs"), "--metrics", "counterfactual"])
    assert ran.exit_code == 0, ran.output
    assert "identity" in ran.output and "counterfactual/mse" in ran.output
    run_id = ran.output.split("Run ")[1].split()[0]
    assert ResultsStore(store).read(run_id).configs["run"]["eval_seed"] == 3

    for fmt, marker in [("markdown", "|"), ("csv", ","), ("latex", "\\begin{tabular}")]:
        compared = runner.invoke(cli, ["compare", "--store", store, "--format", fmt])
        assert compared.exit_code == 0, compared.output
        assert marker in compared.output and "identity" in compared.output

    shown = runner.invoke(cli, ["show", run_id, "--store", store])
    assert shown.exit_code == 0 and run_id in shown.output and "tiny" in shown.output


def test_list_shows_each_kind(cli) -> None:
    listed = CliRunner().invoke(cli, ["list"])
    assert listed.exit_code == 0
    for expected in ("translators:", "identity", "datasets:", "tiny", "metrics:", "counterfactual", "plugins:"):
        assert expected in listed.output
    only = CliRunner().invoke(cli, ["list", "metrics"])
    assert "translators:" not in only.output and "counterfactual" in only.output


def test_plugin_commands_are_added(cli) -> None:
    assert CliRunner().invoke(cli, ["hello"]).output.strip() == "hello from a plugin"


def test_errors_are_one_line_with_exit_status_2(cli, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["run", "--translator", "phendif", "--store", str(tmp_path / "r.h5")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("Error: Unknown translator 'phendif'.")
    missing = CliRunner().invoke(cli, ["show", "nope", "--store", str(tmp_path / "absent.h5")])
    assert missing.exit_code == 2 and "absent.h5" in missing.output
    bad_config = CliRunner().invoke(cli, ["run", "--config", str(tmp_path / "none.yaml")])
    assert bad_config.exit_code == 2 and "none.yaml" in bad_config.output
    negative = CliRunner().invoke(cli, ["run", "--eval-seed", "-1", "--store", str(tmp_path / "r.h5")])
    assert negative.exit_code == 2 and "eval_seed" in negative.output


def test_synthetic_identity_end_to_end_in_a_subprocess(tmp_path) -> None:
    """The console entry point end to end, as a user runs it (the README's quick check, identity)."""
    ran = subprocess.run(
        [sys.executable, "-m", "phenbench.cli", "run", "--translator", "identity", "--dataset", "synthetic",
         "--quiet", "--store", "results.h5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "identity" in ran.stdout and "phenotype-shift" in ran.stdout
    assert (tmp_path / "results.h5").exists()
