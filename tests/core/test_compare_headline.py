"""The headline table: a few pooled measures with N and intervals in 120 columns, identity and
floor rows filled; --all and CSV keep every measure; the identity baseline is scored once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from phenbench.cli import build_cli
from phenbench.core.compare import FLOOR_ROW, comparison_table, comparison_text, format_table
from phenbench.core.compare_headline import headline_text
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.plugins import make_plugin_manager
from phenbench.core.store import ResultsStore
from tests.core.test_compare import run
from tests.core.tiny_plugins import TinyPlugins

MEASURES = [  # name, higher is better, ideal, value of (method, identity, floor)
    ("phenotype-shift", True, 1.0, (0.377, 0.0, None)),
    ("classifier/target-share", True, None, (0.1417, 0.1016, 0.8125)),
    ("source-fidelity", True, None, (0.6172, 1.0, 0.1)),
    ("segmentation-failures", False, None, (0.0234, 0.0, 0.0)),
    ("fd-cellprofiler", False, None, (1030.4, 200.6, 12.25)),
    ("effect/magnitude-error", False, None, (0.55, 1.0, 0.1)),
    ("reconstruction/psnr", True, None, (24.36, 100.0, None)),
    ("cellprofiler/median-r", True, None, (0.5709, None, 0.8)),
]


def _record(run_id: str, translator: str, minute: int, which: int):
    results = []
    for name, higher, ideal, values in MEASURES:
        x = values[which]
        value = MetricValue(x, 128, ci_low=x - 0.0123, ci_high=x + 0.0456) if x is not None \
            else MetricValue.absent("translated feature means do not vary across concentrations", 128)
        floor = {"pooled": MetricValue(values[2], 128)} if values[2] is not None else {}
        results.append(MetricResult(name, higher, {"taxol@1": value}, value, floor=floor, ideal=ideal,
                                    rows_digest="r1", options_digest=name))
    return dataclasses.replace(run(run_id, translator, minute, 20.0, 5.0), metrics=results)


def _store(tmp_path: Path) -> ResultsStore:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(_record("a", "identity", 1, 1))
    store.write(_record("b", "phenex-wplus (quick)", 2, 0))
    return store


def test_the_headline_fits_120_columns_with_identity_and_floor_rows(tmp_path: Path) -> None:
    table = comparison_table(_store(tmp_path))
    text = headline_text(table)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    shown = [line for line in lines if line.startswith("| ")]
    header = shown[0]
    for short in ("shift →1 N=128", "target-share ↑ N=128", "source-fid. ↑ N=128", "seg-fail ↓ N=128"):
        assert short in header
    assert "reconstruction" not in header and "median-r" not in header  # not headline measures
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in shown[2:]}
    assert set(rows) == {"phenex-wplus (quick)", "identity", FLOOR_ROW}
    assert rows["identity"][2] == "1 [0.988,1.05]*"  # identity keeps every cell: best source fidelity
    assert rows["phenex-wplus (quick)"][0] == "0.377 [0.365,0.423]*"
    assert rows[FLOOR_ROW][1:4] == ["0.812", "0.1", "0"]  # the floor row is filled
    narrow = headline_text(table, width=80)
    assert max(len(line) for line in narrow.splitlines() if line.startswith("|")) <= 80
    assert "seg-fail" not in narrow.splitlines()[2]  # fewer columns, in order of priority


def test_all_and_csv_keep_every_measure(tmp_path: Path) -> None:
    store = _store(tmp_path)
    table = comparison_table(store)
    full = comparison_text(store, "markdown")
    assert "#### reconstruction/psnr (dB) ↑" not in full  # no unit here, but every measure has a block
    assert all(f"#### {name} " in full for name, *_ in MEASURES)
    assert comparison_text(store, "csv") == format_table(table, "csv")
    assert comparison_text(store, "markdown", headline=True) == headline_text(table)


def test_run_scores_the_identity_baseline_once_and_prints_the_headline(tmp_path: Path) -> None:
    cli = build_cli(make_plugin_manager(entry_points=False, extra=(TinyPlugins(),)))
    store = str(tmp_path / "r.h5")
    args = ["run", "--translator", "real-target", "--dataset", "tiny", "--store", store, "--quiet",
            "--work-dir", str(tmp_path / "runs"), "--metrics", "counterfactual", "--pairs", "from-control"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "Identity baseline on the same rows: run " in first.output and "(scored now)" in first.output
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0 and "(scored now)" not in second.output  # found in the store
    runs = ResultsStore(store).runs_frame()
    assert sorted(runs["translator"]) == ["identity", "real-target", "real-target"]
    table_lines = [line for line in second.output.splitlines() if line.startswith("| ")]
    assert any(line.startswith("| identity ") for line in table_lines)
    assert max(len(line) for line in table_lines) <= 120
    # another --max-test-per-condition means other rows: a new identity baseline for them
    third = CliRunner().invoke(cli, [*args, "--max-test-per-condition", "2"])
    assert third.exit_code == 0 and "(scored now)" in third.output


@pytest.mark.slow  # two runs with every default metric in a subprocess: about 25 s on 2 idle cores
def test_the_first_command_prints_the_headline_with_identity_and_floor_rows(tmp_path: Path) -> None:
    """The README's first command, with the cell-ignoring baseline in place of PhenDiff (nothing to
    train) on a small synthetic world, as a user runs it: a subprocess of the console entry point."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.metrics.small_world import SMALL_WORLD

    (tmp_path / "run.yaml").write_text(yaml.safe_dump({"dataset_config": SMALL_WORLD}))
    ran = subprocess.run(
        [sys.executable, "-m", "phenbench.cli", "run", "--translator", "real-target", "--dataset", "synthetic",
         "--pairs", "from-control", "--config", "run.yaml", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PHENBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    table = [line for line in ran.stdout.splitlines() if line.startswith("| ")]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table[2:]}
    assert set(rows) == {"real-target", "identity", FLOOR_ROW}
    assert all(rows["identity"]) and sum(bool(c) for c in rows[FLOOR_ROW]) >= 3  # identity and floor filled
    assert "shift →1" in table[0] and "source-fid. ↑" in table[0]
    assert max(len(line) for line in table) <= 120
