"""`phenbench report`: registered like third-party commands, one-line errors on bad input."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from phenbench.cli import build_cli
from phenbench.core.plugins import DEFAULT_PLUGINS, make_plugin_manager
from phenbench.core.store import ResultsStore
from tests.report.conftest import all_pairs_samples, make_record


def _cli():
    return build_cli(make_plugin_manager(entry_points=False))


def _toy_store(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(make_record("run-a", "identity", all_pairs_samples(np.random.default_rng(0))))
    return store


def test_report_is_a_built_in_plugin_command() -> None:
    assert "phenbench.report.plugin" in DEFAULT_PLUGINS
    result = CliRunner().invoke(_cli(), ["report", "--help"])
    assert result.exit_code == 0 and "--store" in result.output and "--out" in result.output


def test_report_command_writes_the_page(tmp_path) -> None:
    store = _toy_store(tmp_path)
    result = CliRunner().invoke(
        _cli(), ["report", "--store", str(store.path), "--out", str(tmp_path / "out"), "--colour", "DNA=#00ffff"]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Report written to" in result.output and 'data-method="identity"' in page
    assert "background:#00ffff" in page  # the chosen DNA colour is the legend's swatch


def test_bad_input_gets_one_line(tmp_path) -> None:
    store = _toy_store(tmp_path)
    cases = [
        (["--store", str(tmp_path / "none.h5")], "does not exist"),
        (["--store", str(store.path), "--colour", "dna=blue"], "unknown channel(s) dna"),
        (["--store", str(store.path), "--colour", "DNA"], "CHANNEL=COLOUR"),
        (["--store", str(store.path), "--dataset", "toyy"], "Did you mean: toy"),
        (["--store", str(store.path), "--sources", "-1"], "between 0 and 64"),
    ]
    for arguments, message in cases:
        result = CliRunner().invoke(_cli(), ["report", "--out", str(tmp_path / "out"), *arguments])
        assert result.exit_code == 2, (arguments, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def test_registering_the_command_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = ("import sys, phenbench.report.plugin; "
            "print(sorted(m for m in ('numpy', 'pandas', 'matplotlib', 'torch', 'h5py') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
