"""Values computed on other rows or metric options never share a column of the comparison."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from phenbench.core.compare import comparison_table, format_table
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.store import ResultsStore
from tests.core.test_compare import run


def scored(run_id: str, translator: str, minute: int, fid: float, rows: str | None, options: str | None = "opt1"):
    result = MetricResult("fid", False, {"taxol@1": MetricValue(fid, 8)}, MetricValue(fid, 8),
                          rows_digest=rows, options_digest=options if rows else None)
    return dataclasses.replace(run(run_id, translator, minute, 20.0, fid), metrics=[result])


def test_digests_are_stored_and_older_records_read_back_without_them(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(scored("a", "identity", 1, 5.0, rows="rowsAAAA1111"))
    store.write(scored("b", "stargan", 2, 4.0, rows=None))
    [new] = store.read("a").metrics
    [old] = store.read("b").metrics
    assert (new.rows_digest, new.options_digest) == ("rowsAAAA1111", "opt1")
    assert (old.rows_digest, old.options_digest) == (None, None)
    frame = store.metrics_frame()
    assert list(frame.loc[frame["run_id"] == "a", "rows_digest"].unique()) == ["rowsAAAA1111"]


def test_runs_on_the_same_rows_and_options_share_a_column(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(scored("a", "identity", 1, 5.0, rows="rowsAAAA1111"))
    store.write(scored("b", "stargan", 2, 4.0, rows="rowsAAAA1111"))
    table = comparison_table(store)
    assert {m for m, _ in table.columns} == {"fid"}
    assert ("stargan", "fid", "taxol@1") in table.attrs["phenbench"]["best"]


def test_runs_on_other_rows_or_options_get_their_own_column_and_a_note(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(scored("a", "identity", 1, 5.0, rows="rowsAAAA1111"))
    store.write(scored("b", "cyclegan", 2, 1.0, rows="rowsBBBB2222"))  # e.g. fewer test images
    store.write(scored("c", "stargan", 3, 4.0, rows="rowsAAAA1111", options="opt2"))  # e.g. another extractor
    store.write(scored("d", "phendiff", 4, 3.0, rows="rowsAAAA1111"))
    table = comparison_table(store)
    metrics = list(dict.fromkeys(m for m, _ in table.columns))
    assert metrics == ["fid", "fid [rows rowsBB]", "fid [options opt2]"]
    # The latest run (phendiff) and identity share the plain column; cyclegan's 1.0 on other rows
    # does not beat them there.
    assert table.loc["phendiff", ("fid", "pooled")] == 3.0 and table.loc["identity", ("fid", "pooled")] == 5.0
    assert table.loc["cyclegan", ("fid [rows rowsBB]", "pooled")] == 1.0
    best = set(table.attrs["phenbench"]["best"])
    assert ("phendiff", "fid", "pooled") in best and not any(b[0] == "cyclegan" for b in best)  # alone: not marked
    text = format_table(table, "markdown")
    assert "fid: runs were scored on different rows" in text and "fid [rows rowsBB] (cyclegan)" in text


def test_a_store_written_before_digests_keeps_one_column(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(scored("a", "identity", 1, 5.0, rows=None))
    store.write(scored("b", "stargan", 2, 4.0, rows=None))
    assert {m for m, _ in comparison_table(store).columns} == {"fid"}
    store.write(scored("c", "phendiff", 3, 3.0, rows="rowsAAAA1111"))
    assert {m for m, _ in comparison_table(store).columns} == {"fid", "fid [not recorded]"}
