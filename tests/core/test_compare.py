"""The comparison table and `describe_run`, on small stores whose every value the test chose."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import pandas as pd
import pytest

from phenbench.core.compare import FLOOR_ROW, comparison_table, comparison_text, describe_run, format_table
from phenbench.core.errors import PhenbenchError, UnknownNameError
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.store import ResultsStore, RunRecord
from tests.core.store_workers.records import record_for


def run(run_id: str, translator: str, minute: int, psnr: float, fid: float | None, *, preset: str | None = None,
        dataset: str = "synthetic", status: str = "complete", floor: bool = False) -> RunRecord:  # fmt: skip
    """A run whose PSNR is `psnr` on DMSO, psnr - 2 on taxol and psnr - 1 pooled (N 8, 8, 16)."""
    psnr_result = MetricResult(
        "reconstruction/psnr",
        True,
        {"DMSO": MetricValue(psnr, 8, ci_low=psnr - 0.5, ci_high=psnr + 0.5), "taxol@1": MetricValue(psnr - 2, 8)},
        MetricValue(psnr - 1, 16),
        unit="dB",
    )
    fid_result = MetricResult(
        "fid",
        False,
        {
            "DMSO": MetricValue(fid, 8) if fid is not None else MetricValue.absent("too few images", 1),
            "taxol@1": MetricValue.absent("Inception weights not found", 0),
        },
        MetricValue.absent("missing for taxol@1", 8),
        floor={"DMSO": MetricValue(2.5, 8), "pooled": MetricValue(1.25, 16)} if floor else {},
    )
    return RunRecord(
        run_id=run_id, translator=translator, dataset=dataset, status=status, seed=0,
        started=f"2026-11-25T06:{minute:02d}:00+00:00", ended=f"2026-11-25T06:{minute:02d}:30+00:00",
        configs={"run": {"seed": 0}, "translator": {"steps": 3}, "dataset": {}}, versions={"phenbench": "0.1.0"},
        git_hash="abc123", dataset_hash="hash", metrics=[psnr_result, fid_result] if status == "complete" else [],
        timings={"fit_seconds": 12.5, "nfe": 100}, error=None if status == "complete" else "CUDA out of memory",
        preset=preset,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    store = ResultsStore(tmp_path / "results.h5")
    for record in [
        run("id-1", "identity", 1, psnr=20.0, fid=50.0, floor=True),
        run("pd-old", "phendiff", 2, psnr=99.0, fid=1.0, preset="paper"),  # superseded by pd-new
        run("pd-new", "phendiff", 5, psnr=28.0, fid=20.0, preset="paper", floor=True),
        run("pd-fast", "phendiff", 3, psnr=25.0, fid=None, preset="fast"),
        run("sg-1", "stargan", 4, psnr=28.0, fid=30.0),
        run("sg-bad", "stargan", 6, psnr=0.0, fid=0.0, status="failed"),
    ]:
        store.write(record)
    return store


def test_one_row_per_method_with_the_latest_complete_run(store: ResultsStore) -> None:
    table = comparison_table(store)
    assert list(table.index) == ["phendiff (fast)", "phendiff (paper)", "stargan", "identity", FLOOR_ROW]
    assert table.attrs["phenbench"]["runs"] == {
        "phendiff (fast)": "pd-fast", "phendiff (paper)": "pd-new", "stargan": "sg-1", "identity": "id-1"}  # fmt: skip
    assert table.loc["phendiff (paper)", ("reconstruction/psnr", "DMSO")] == 28.0  # not the older 99
    assert table.loc["stargan", ("reconstruction/psnr", "pooled")] == 27.0
    assert table.loc["identity", ("fid", "DMSO")] == 50.0


def test_columns_are_metric_and_condition_with_pooled_first(store: ResultsStore) -> None:
    table = comparison_table(store)
    assert list(table.columns) == [
        ("reconstruction/psnr", "pooled"), ("reconstruction/psnr", "DMSO"), ("reconstruction/psnr", "taxol@1"),
        ("fid", "pooled"), ("fid", "DMSO"), ("fid", "taxol@1"),
    ]  # fmt: skip


def test_best_follows_each_metrics_direction_and_marks_ties(store: ResultsStore) -> None:
    best = set(comparison_table(store).attrs["phenbench"]["best"])
    # PSNR (higher is better): phendiff (paper) and stargan tie at 28 on DMSO.
    assert {b for b in best if b[1:] == ("reconstruction/psnr", "DMSO")} == {
        ("phendiff (paper)", "reconstruction/psnr", "DMSO"), ("stargan", "reconstruction/psnr", "DMSO")}  # fmt: skip
    # FID (lower is better): phendiff (paper) at 20 beats stargan 30 and identity 50; the floor never counts.
    assert {b for b in best if b[1:] == ("fid", "DMSO")} == {("phendiff (paper)", "fid", "DMSO")}
    assert not [b for b in best if b[1:] == ("fid", "taxol@1")]  # all missing: nothing is best


def shift_run(run_id: str, translator: str, minute: int, share: float, *, ideal: float | None) -> RunRecord:
    """A run whose only measure is a phenotype-shift share of `share` (ideal 1, or none as in old stores)."""
    result = MetricResult("phenotype-shift", True, {"taxol@1": MetricValue(share, 8)}, MetricValue(share, 8),
                          unit="share of true shift", ideal=ideal)  # fmt: skip
    return dataclasses.replace(run(run_id, translator, minute, 20.0, 5.0), metrics=[result])


def test_a_measure_with_an_ideal_marks_the_closest_value_not_the_largest(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    # The overshoot (1.5) is further from 1 than the undershoot (0.8); the oldest run predates `ideal`.
    store.write(shift_run("old", "identity", 1, 0.0, ideal=None))
    store.write(shift_run("over", "stargan", 2, 1.5, ideal=1.0))
    store.write(shift_run("under", "cyclegan", 3, 0.8, ideal=1.0))
    table = comparison_table(store)
    assert table.attrs["phenbench"]["ideals"] == {"phenotype-shift": 1.0}
    assert set(table.attrs["phenbench"]["best"]) == {
        ("cyclegan", "phenotype-shift", "pooled"), ("cyclegan", "phenotype-shift", "taxol@1")}  # fmt: skip
    text = format_table(table, "markdown", conditions="pooled")
    assert "phenotype-shift (share of true shift) →1" in text and "**0.8**" in text and "**1.5**" not in text
    assert ResultsStore(tmp_path / "r.h5").read("under").metrics[0].ideal == 1.0
    assert ResultsStore(tmp_path / "r.h5").read("old").metrics[0].ideal is None
    assert "phenotype-shift →1" in describe_run(store.read("under"))


def test_costs_are_pooled_columns_marked_cheapest_with_reasons_where_not_recorded(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    fitted = dataclasses.replace(run("a", "phendiff", 1, 20.0, 5.0), timings={
        "fit_seconds": 300.0, "translate_images_per_second": 2.0, "invert_seconds_per_image": 0.5})
    loaded = dataclasses.replace(run("b", "stargan", 2, 20.0, 5.0), timings={"translate_images_per_second": 250.0})
    store.write(fitted)
    store.write(loaded)
    table = comparison_table(store, metrics=["fid"], costs=True)
    assert table.loc["phendiff", ("cost/fit", "pooled")] == 300.0
    assert table.loc["stargan", ("cost/translation", "pooled")] == 250.0
    assert math.isnan(table.loc["stargan", ("cost/fit", "pooled")])
    assert ("stargan", "cost/translation", "pooled") in table.attrs["phenbench"]["best"]  # images/s: higher
    text = format_table(table, "markdown", conditions="pooled")
    assert "cost/fit (s) ↓" in text and "cost/inversion (s per source image) ↓" in text
    assert "a saved model was loaded with --checkpoint" in text and "no inversion recorded" in text
    assert "cost/fit" not in format_table(comparison_table(store, metrics=["fid"]), "markdown")  # only on request


def test_a_lone_value_is_not_marked_best(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(run("a", "identity", 1, 20.0, 5.0))
    table = comparison_table(store)
    assert table.attrs["phenbench"]["best"] == []
    assert "**" not in format_table(table, "markdown")


def test_all_runs_when_not_latest_only(store: ResultsStore) -> None:
    table = comparison_table(store, latest_only=False)
    assert "phendiff (paper) @ pd-old" in table.index and "phendiff (paper) @ pd-new" in table.index
    assert table.loc["phendiff (paper) @ pd-old", ("reconstruction/psnr", "DMSO")] == 99.0
    assert not any("sg-bad" in label for label in table.index)


def test_the_floor_row_comes_from_the_latest_run_that_has_one(store: ResultsStore) -> None:
    table = comparison_table(store)
    assert table.loc[FLOOR_ROW, ("fid", "DMSO")] == 2.5
    assert table.loc[FLOOR_ROW, ("fid", "pooled")] == 1.25
    assert math.isnan(table.loc[FLOOR_ROW, ("reconstruction/psnr", "DMSO")])


def test_a_single_preset_is_not_shown(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(run("a", "phendiff", 1, 20.0, 5.0, preset="paper"))
    store.write(run("b", "identity", 2, 10.0, 9.0))
    assert list(comparison_table(store).index) == ["phendiff", "identity"]


def markdown_rows(lines: list[str]) -> dict[str, list[str]]:
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]
    return {row[0]: row[1:] for row in cells}


def test_markdown_shows_direction_n_best_ci_missing_and_notes(store: ResultsStore) -> None:
    text = format_table(comparison_table(store), "markdown")
    lines = text.splitlines()
    # With per-condition columns, one table per metric: rows are methods, columns conditions.
    psnr_at, fid_at = lines.index("#### reconstruction/psnr (dB) ↑"), lines.index("#### fid ↓")
    assert lines[psnr_at + 2] == "| method | pooled · N=16 | DMSO · N=8 | taxol@1 · N=8 |"
    # pd-fast's missing FID (N=1) is behind no value shown; taxol@1 has no value at all, so no N.
    assert lines[fid_at + 2] == "| method | pooled | DMSO · N=8 | taxol@1 |"
    psnr_rows = markdown_rows(lines[psnr_at + 4 : psnr_at + 9])
    # phendiff (paper) and stargan tie in every PSNR column: both are marked.
    assert psnr_rows["phendiff (paper)"] == ["**27**", "**28 [27.5, 28.5]**", "**26**"]
    assert psnr_rows["stargan"] == ["**27**", "**28 [27.5, 28.5]**", "**26**"]
    assert psnr_rows["identity"] == ["19", "20 [19.5, 20.5]", "18"]
    assert psnr_rows[FLOOR_ROW] == ["", "", ""]  # no floor for PSNR: blank, not missing
    fid_rows = markdown_rows(lines[fid_at + 4 : fid_at + 9])
    assert fid_rows["phendiff (paper)"] == ["— [1]", "**20**", "— [3]"]
    assert fid_rows["phendiff (fast)"] == ["— [1]", "— [2]", "— [3]"]
    assert fid_rows[FLOOR_ROW][:2] == ["1.25", "2.5"]  # the floor is shown, never marked best
    reasons = {line for line in lines if line.startswith("- [")}
    assert reasons == {"- [1] missing for taxol@1", "- [2] too few images", "- [3] Inception weights not found"}
    assert "- Failed run not shown: sg-bad (stargan): CUDA out of memory" in lines


def test_pooled_only_is_one_table_with_a_column_per_metric(store: ResultsStore) -> None:
    text = format_table(comparison_table(store), "markdown", conditions="pooled")
    header = next(line for line in text.splitlines() if line.startswith("| method"))
    assert header == "| method | reconstruction/psnr (dB) ↑ · pooled · N=16 | fid ↓ · pooled |"
    assert "####" not in text


def test_n_ranges_when_methods_differ(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    for run_id, n in [("a", 5), ("b", 9)]:
        result = MetricResult("accuracy", True, {"DMSO": MetricValue(0.5, n)}, MetricValue(0.5, n))
        store.write(dataclasses.replace(run(run_id, f"method_{run_id}", 1, 1.0, 1.0), metrics=[result]))
    assert "| method | pooled · N=5–9 | DMSO · N=5–9 |" in format_table(comparison_table(store), "markdown")


def test_unknown_condition_in_the_filter(store: ResultsStore) -> None:
    with pytest.raises(PhenbenchError, match="Condition.* DSMO not in the table"):
        format_table(comparison_table(store), "markdown", conditions=["DSMO"])


def test_csv_reads_back_with_pandas(store: ResultsStore) -> None:
    text = format_table(comparison_table(store), "csv")
    frame = pd.read_csv(io.StringIO(text), comment="#", index_col="method")
    assert list(frame.index) == ["phendiff (fast)", "phendiff (paper)", "stargan", "identity", FLOOR_ROW]
    assert frame.loc["stargan", "reconstruction/psnr (dB) ↑ · DMSO · N=8"] == "28 [27.5, 28.5]*"
    assert frame.loc["identity", "reconstruction/psnr (dB) ↑ · DMSO · N=8"] == "20 [19.5, 20.5]"
    assert frame.loc["phendiff (paper)", "fid ↓ · pooled"] == "— [1]"
    assert "# [1] missing for taxol@1" in text.splitlines()


def test_latex_escapes_and_marks_best(store: ResultsStore) -> None:
    text = format_table(comparison_table(store), "latex")
    assert "\\begin{tabular}" in text and "\\toprule" in text
    assert "reconstruction/psnr (dB) $\\uparrow$" in text and "fid $\\downarrow$" in text
    assert "taxol@1 (N=8)" in text
    assert "\\textbf{20}" in text  # phendiff (paper) FID on DMSO
    assert "---\\textsuperscript{1}" in text
    assert "real vs real (floor)" in text and "_" not in text.replace("\\_", "")


def test_latex_pooled_only_has_metric_over_condition_headers(store: ResultsStore) -> None:
    text = format_table(comparison_table(store), "latex", conditions="pooled")
    assert text.count("\\begin{tabular}") == 1
    lines = text.splitlines()
    assert " & reconstruction/psnr (dB) $\\uparrow$ & fid $\\downarrow$ \\\\" in lines
    assert " & pooled (N=16) & pooled \\\\" in lines
    assert "\\textbf{27}" in text


def test_latex_escapes_underscores_in_names(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(run("a", "my_method", 1, 20.0, 5.0))
    assert "my\\_method" in format_table(comparison_table(store), "latex")


def test_metric_filter_and_unknown_metric(store: ResultsStore) -> None:
    table = comparison_table(store, metrics=["fid"])
    assert {m for m, _ in table.columns} == {"fid"}
    with pytest.raises(UnknownNameError, match="Did you mean: fid"):
        comparison_table(store, metrics=["fdi"])


def test_several_datasets_must_be_chosen(store: ResultsStore) -> None:
    store.write(run("g-1", "identity", 7, 11.0, 3.0, dataset="golgi"))
    with pytest.raises(PhenbenchError, match=r"several datasets \(synthetic, golgi\); choose one"):
        comparison_table(store)
    assert list(comparison_table(store, dataset="golgi").index) == ["identity"]
    with pytest.raises(UnknownNameError, match="Did you mean: golgi"):
        comparison_table(store, dataset="gogli")
    text = comparison_text(store, "markdown")
    assert "### synthetic" in text and "### golgi" in text
    store.write(run("b-1", "stargan", 8, 1.0, 1.0, dataset="bbbc021", status="failed"))
    text = comparison_text(store, "markdown", conditions="pooled")
    assert "### bbbc021: no complete run (1 failed; `phenbench show b-1`)" in text and "### golgi" in text
    golgi = format_table(comparison_table(store, dataset="golgi"), "csv")
    assert comparison_text(store, "csv", dataset="golgi") == golgi


def test_unknown_format_and_empty_or_failed_stores(store: ResultsStore, tmp_path: Path) -> None:
    with pytest.raises(PhenbenchError, match="Unknown table format 'html'; use one of markdown, csv, latex"):
        format_table(comparison_table(store), "html")
    failed_only = ResultsStore(tmp_path / "failed.h5")
    failed_only.write(run("f", "stargan", 1, 0.0, 0.0, status="failed"))
    with pytest.raises(PhenbenchError, match="No complete run on dataset 'synthetic'.*phenbench show f"):
        comparison_table(failed_only)
    with pytest.raises(PhenbenchError, match="does not exist"):
        comparison_table(ResultsStore(tmp_path / "nothing.h5"))


def test_rows_on_different_prepared_data_are_flagged(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(run("a", "identity", 1, 20.0, 5.0))
    store.write(run("b", "phendiff", 2, 25.0, 4.0))
    assert "different prepared data" not in format_table(comparison_table(store), "markdown")
    store.write(dataclasses.replace(run("c", "stargan", 3, 22.0, 6.0), dataset_hash="other"))
    text = format_table(comparison_table(store), "csv")
    assert "# Warning: rows were computed on different prepared data (dataset hash " in text
    assert "stargan: other" in text and "identity: hash" in text


def test_runs_without_metrics_are_a_clear_error(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.h5")
    store.write(dataclasses.replace(run("a", "identity", 1, 1.0, 1.0), metrics=[]))
    with pytest.raises(PhenbenchError, match="stored no metric values"):
        comparison_table(store)


def test_describe_run_shows_provenance_metrics_and_missing_reasons(store: ResultsStore) -> None:
    text = describe_run(store.read("pd-fast"))
    assert text.startswith("Run pd-fast\n")
    for expected in [
        "translator    phendiff (preset fast)", "status        complete", "git commit    abc123",
        "(30.0 s)", "Versions: phenbench 0.1.0", "fit_seconds", "12.5",
        "25 [24.5, 25.5]", '"steps": 3',
    ]:  # fmt: skip
        assert expected in text, expected
    lines = text.splitlines()
    fid_at = lines.index("  fid ↓")
    assert lines[fid_at + 1].split() == ["DMSO", "—", "[1]", "N=1"]
    assert "  [1] too few images" in lines and "  [2] Inception weights not found" in lines
    with_samples = describe_run(record_for("s", image_size=8, n_samples=2))
    assert "  taxol@1: source 2x3x8x8, translated 2x3x8x8, reconstruction 2x3x8x8, real 2x3x8x8" in with_samples
    failed = describe_run(store.read("sg-bad"))
    assert "error         CUDA out of memory" in failed and "Metrics: none stored" in failed


def test_a_value_whose_interval_could_not_be_computed_says_why_in_every_format(tmp_path: Path) -> None:
    from phenbench.core.compare_headline import headline_text
    from phenbench.report.table_html import comparison_table_html

    why = "no interval: a sample has 4 independent units"
    record = run("pd-1", "phendiff", 1, 28.0, 20.0)
    psnr = record.metrics[0]
    psnr.per_condition["taxol@1"] = MetricValue(26.0, 8, ci_missing=why)
    store = ResultsStore(tmp_path / "r.h5")
    store.write(record)
    table = comparison_table(store)
    lines = format_table(table, "markdown").splitlines()
    psnr_at = lines.index("#### reconstruction/psnr (dB) ↑")
    # The note numbers follow the table's order: the interval's reason comes first, in the PSNR table.
    assert markdown_rows(lines[psnr_at + 4 : psnr_at + 5])["phendiff"] == ["27", "28 [27.5, 28.5]", "26 (no CI [1])"]
    assert f"- [1] {why}" in lines
    assert "26 (no CI\\textsuperscript{1})" in format_table(table, "latex")
    html = comparison_table_html(table)
    assert "(no CI<sup>" in html and why in html
    # The headline's columns are pooled values: give PSNR's pooled value the reason instead.
    psnr.pooled = MetricValue(27.0, 16, ci_missing=why)
    store.write(dataclasses.replace(record, run_id="pd-2", started="2026-11-25T07:00:00+00:00"))
    headline = headline_text(comparison_table(store)).splitlines()
    assert any("27 (no CI [1])" in line for line in headline) and f"[1] {why}" in "\n".join(headline)
    shown = describe_run(store.read("pd-1")).splitlines()
    assert any(line.split()[:5] == ["taxol@1", "26", "(no", "CI", "[1])"] for line in shown)
    assert f"  [1] {why}" in shown
