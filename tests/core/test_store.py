"""The results store in one process: round trips, frames, errors, and all-or-nothing writes."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from phenbench.core import store_file, store_schema
from phenbench.core.errors import DataError, PhenbenchError, UnknownNameError
from phenbench.core.metric import MetricResult, MetricValue
from phenbench.core.store import METRIC_COLUMNS, RUN_COLUMNS, ResultsStore, make_run_id
from tests.core.store_workers.records import CONDITIONS, assert_same_record, record_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "results_store.md"


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    return ResultsStore(tmp_path / "results.h5")


def test_store_file_is_created_by_the_first_write_only(store: ResultsStore) -> None:
    assert not store.path.exists()
    store.write(record_for("run-a"))
    assert store.path.is_file()
    with h5py.File(store.path, "r") as root:
        assert root.attrs["format"] == store_schema.FORMAT_NAME
        assert root.attrs["schema_version"] == store_schema.SCHEMA_VERSION


def test_every_field_round_trips(store: ResultsStore) -> None:
    expected = record_for("run-a", image_size=16, n_samples=3)
    store.write(expected)
    assert_same_record(store.read("run-a", samples=True), expected)
    without = store.read("run-a")
    assert without.samples == {}
    assert_same_record(without, expected, samples=False)


def test_missing_values_keep_their_reasons_and_n(store: ResultsStore) -> None:
    store.write(record_for("run-a"))
    psnr = store.read("run-a").metrics[0]
    assert psnr.per_condition["taxol@1"].value is None
    assert psnr.per_condition["taxol@1"].missing == "no real images (run-a)"
    assert (psnr.pooled.value, psnr.pooled.missing, psnr.pooled.n) == (None, "missing for taxol@1", 9)
    dmso = psnr.per_condition["DMSO"]
    assert dmso.ci_low < dmso.value < dmso.ci_high and dmso.n == 7
    assert psnr.per_condition["taxol@0.3"].ci_low is None  # no CI stays no CI (not 0, not NaN)
    assert psnr.per_condition["taxol@0.3"].ci_missing == "no interval: 3 independent units"
    assert dmso.ci_missing is None and psnr.pooled.ci_missing is None
    frame = store.metrics_frame()
    assert frame.set_index(["metric", "condition"]).loc[("reconstruction/psnr", "taxol@0.3"), "ci_missing"] == \
        "no interval: 3 independent units"


def test_a_store_written_before_interval_reasons_reads_with_none(store: ResultsStore) -> None:
    store.write(record_for("run-a"))
    with h5py.File(store.path, "r+") as root:  # drop the column, as a store written before it lacks it
        for metric in root["runs/run-a/metrics"].values():
            rows = metric["values"][()]
            names = [n for n in rows.dtype.names if n != "ci_missing"]
            del metric["values"]
            metric["values"] = rows[names]
    psnr = store.read("run-a").metrics[0]
    assert psnr.per_condition["taxol@0.3"].ci_missing is None and psnr.per_condition["DMSO"].ci_low is not None
    assert store.metrics_frame()["ci_missing"].isna().all()


def test_optional_fields_none_and_empty_strings_stay_distinct(store: ResultsStore) -> None:
    base = record_for("run-a")
    store.write(dataclasses.replace(base, git_hash=None, preset=None, error=None))
    store.write(dataclasses.replace(base, run_id="run-b", git_hash="", preset="", status="failed", error="OOM", metrics=[]))
    a, b = store.read("run-a"), store.read("run-b")
    assert (a.git_hash, a.preset, a.error) == (None, None, None)
    assert (b.git_hash, b.preset, b.error, b.status, b.metrics) == ("", "", "OOM", "failed", [])


def test_run_ids_are_in_start_time_order(store: ResultsStore) -> None:
    times = {"late": "2026-11-25T09:00:00+00:00", "early": "2026-11-25T01:00:00+00:00", "mid": "2026-11-25T05:00:00+00:00"}
    for run_id, started in times.items():
        store.write(dataclasses.replace(record_for(run_id), started=started))
    assert store.run_ids() == ["early", "mid", "late"]
    assert store.runs_frame()["run_id"].tolist() == ["early", "mid", "late"]


def test_runs_frame_has_one_row_per_run(store: ResultsStore) -> None:
    records = [record_for(f"run-{i}") for i in range(3)]
    for record in records:
        store.write(record)
    frame = store.runs_frame().set_index("run_id")
    assert list(frame.reset_index().columns) == RUN_COLUMNS
    for record in records:
        row = frame.loc[record.run_id]
        assert (row["translator"], row["seed"], row["started"], row["dataset_hash"]) == (
            record.translator, record.seed, record.started, record.dataset_hash)  # fmt: skip
        assert (row["preset"] if isinstance(row["preset"], str) else None) == record.preset


def test_metrics_frame_is_long_with_pooled_and_floor_rows(store: ResultsStore) -> None:
    record = record_for("run-a")
    store.write(record)
    frame = store.metrics_frame()
    assert list(frame.columns) == METRIC_COLUMNS
    psnr = record.metrics[0]
    expected_rows = len(psnr.per_condition) + 1 + len(psnr.floor) + len(CONDITIONS) + 1
    assert len(frame) == expected_rows
    rows = frame.set_index(["metric", "condition", "is_floor"])
    dmso = rows.loc[("reconstruction/psnr", "DMSO", False)]
    assert dmso["value"] == psnr.per_condition["DMSO"].value
    stored = psnr.per_condition["DMSO"]
    assert (dmso["ci_low"], dmso["ci_high"], dmso["n"]) == (stored.ci_low, stored.ci_high, 7)
    assert rows.loc[("reconstruction/psnr", "DMSO", True)]["value"] == psnr.floor["DMSO"].value
    pooled = rows.loc[("reconstruction/psnr", "pooled", False)]
    assert np.isnan(pooled["value"]) and pooled["missing"] == "missing for taxol@1"
    fid = rows.loc[("fid", "pooled", False)]
    assert fid["value"] == record.metrics[1].pooled.value and not fid["higher_is_better"]
    assert rows.loc[("reconstruction/psnr", "DMSO", False)]["unit"] == "dB"


def test_metrics_frame_of_chosen_runs(store: ResultsStore) -> None:
    for run_id in ("run-a", "run-b", "run-c"):
        store.write(record_for(run_id))
    frame = store.metrics_frame(run_ids=["run-c", "run-a"])
    assert set(frame["run_id"]) == {"run-a", "run-c"}
    everything = store.metrics_frame()
    assert len(frame) == len(everything[everything["run_id"] != "run-b"])
    with pytest.raises(UnknownNameError, match="Unknown run id 'run-x'. Did you mean: "):
        store.metrics_frame(run_ids=["run-x"])


def test_configs_and_timings_of_chosen_runs_without_their_metrics(store: ResultsStore) -> None:
    for run_id in ("run-a", "run-b"):
        store.write(record_for(run_id))
    configs = store.configs(["run-b"])
    assert configs == {"run-b": record_for("run-b").configs}
    assert store.timings(["run-a", "run-b"]) == {r: record_for(r).timings for r in ("run-a", "run-b")}
    for read in (store.configs, store.timings):
        with pytest.raises(UnknownNameError, match="Unknown run id 'run-x'. Did you mean: "):
            read(["run-a", "run-x"])


def test_empty_store_frames_have_columns(store: ResultsStore) -> None:
    with h5py.File(store.path, "w") as root:  # a valid store with no runs
        store_schema.init_store_root(root, "2026-11-25T00:00:00+00:00")
    assert store.run_ids() == []
    assert list(store.runs_frame().columns) == RUN_COLUMNS
    assert list(store.metrics_frame().columns) == METRIC_COLUMNS


def test_make_run_id_is_valid_and_unique() -> None:
    ids = {make_run_id("phen diff/v2", "bbbc021") for _ in range(20)}
    assert len(ids) == 20
    for run_id in ids:
        store_schema.check_run_id(run_id)
        assert re.fullmatch(r"\d{8}T\d{6}-phen_diff_v2-bbbc021-[0-9a-f]{8}", run_id), run_id


def test_unknown_run_id_suggests_close_ids(store: ResultsStore) -> None:
    store.write(record_for("20261125T063000-identity-synthetic-3f2a"))
    with pytest.raises(UnknownNameError, match=r"Did you mean: 20261125T063000-identity-synthetic-3f2a\?"):
        store.read("20261125T063000-identity-synthetic-3f2b")
    with pytest.raises(UnknownNameError, match=r"Unknown run id 'zzz' in .*results.h5 \(1 runs stored\)"):
        store.read("zzz")


def test_a_unique_prefix_names_a_run(store: ResultsStore) -> None:
    store.write(record_for("20261125T063000-identity-synthetic-3f2a"))
    store.write(record_for("20261125T070000-identity-synthetic-0000"))
    assert store.read("20261125T0630").run_id == "20261125T063000-identity-synthetic-3f2a"
    with pytest.raises(PhenbenchError, match="matches 2 runs"):
        store.read("20261125T0")


def test_missing_store_is_a_clear_error(store: ResultsStore) -> None:
    with pytest.raises(DataError, match=r"results.h5 does not exist; `phenbench run` creates it"):
        store.run_ids()
    with pytest.raises(DataError, match="does not exist"):
        store.read("x")


def test_a_file_that_is_not_hdf5_is_refused_and_kept(store: ResultsStore) -> None:
    store.path.write_text("these are my precious notes\n")
    with pytest.raises(DataError, match=r"results.h5 is not a readable HDF5 results store .*never overwrites it"):
        store.runs_frame()
    with pytest.raises(DataError, match="not a readable HDF5"):
        store.write(record_for("run-a"))
    assert store.path.read_text() == "these are my precious notes\n"


def test_a_truncated_store_is_refused_and_kept(store: ResultsStore) -> None:
    store.write(record_for("run-a"))
    data = store.path.read_bytes()
    store.path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="not a readable HDF5"):
        store.run_ids()
    with pytest.raises(DataError):
        store.write(record_for("run-b"))
    assert store.path.read_bytes() == data[: len(data) // 3]


def test_damage_inside_a_store_is_a_clear_error(store: ResultsStore) -> None:
    store.write(record_for("run-a", image_size=16))
    with h5py.File(store.path, "r") as root:  # where the first compressed sample chunk lies
        samples = root["runs/run-a/samples/000/source"]
        chunk = samples.id.get_chunk_info(0)
        offset, size = chunk.byte_offset, chunk.size
    data = bytearray(store.path.read_bytes())
    data[offset : offset + size] = bytes(size)  # zeros: gzip cannot decode them
    store.path.write_bytes(bytes(data))
    assert store.read("run-a").run_id == "run-a"  # what is intact still reads
    with pytest.raises(DataError, match=r"results.h5 is damaged: reading it failed \(OSError: .*restore it from a backup"):
        store.read("run-a", samples=True)


def test_an_hdf5_file_that_is_not_a_store_is_refused(store: ResultsStore) -> None:
    with h5py.File(store.path, "w") as root:
        root["x"] = np.arange(3)
    with pytest.raises(DataError, match="HDF5 file but not a phenbench results store"):
        store.run_ids()
    with pytest.raises(DataError, match="not a phenbench results store"):
        store.write(record_for("run-a"))


def test_a_newer_schema_is_refused_with_upgrade_advice(store: ResultsStore) -> None:
    store.write(record_for("run-a"))
    with h5py.File(store.path, "a") as root:
        root.attrs["schema_version"] = store_schema.SCHEMA_VERSION + 1
    with pytest.raises(DataError, match="upgrade phenbench"):
        store.read("run-a")


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        ResultsStore(tmp_path).run_ids()
    with pytest.raises(DataError, match="is a folder"):
        ResultsStore(tmp_path).write(record_for("run-a"))


def test_a_duplicate_run_id_never_replaces_the_stored_run(store: ResultsStore) -> None:
    first = record_for("run-a")
    store.write(first)
    with pytest.raises(PhenbenchError, match="already in .* never replaced"):
        store.write(dataclasses.replace(first, seed=999))
    assert store.read("run-a").seed == first.seed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run_id": "a/b"}, "Invalid run id"),
        ({"status": "done"}, "status 'done' must be one of complete, failed"),
        ({"status": "failed", "error": None}, "failed run needs its error"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"started": "yesterday"}, "not an ISO 8601 time"),
        ({"configs": {"run": {"f": object()}}}, "Cannot store run-a.configs as JSON"),
        ({"samples": {"DMSO": {"source": np.zeros((3, 8, 8))}}}, "expected N x C x H x W"),
        ({"samples": {"DMSO": {"target": np.zeros((1, 3, 8, 8))}}}, "Unknown sample kind 'target'"),
    ],
)
def test_bad_records_are_refused_and_leave_the_store_as_it_was(store: ResultsStore, change: dict, message: str) -> None:
    store.write(record_for("run-0"))
    before = store.path.read_bytes()
    with pytest.raises(PhenbenchError, match=message):
        store.write(dataclasses.replace(record_for("run-a"), **change))
    assert store.path.read_bytes() == before
    assert not list(store.path.parent.glob(".results.h5.*.tmp"))


def test_metric_problems_are_refused(store: ResultsStore) -> None:
    clash = MetricResult("m", True, {"pooled": MetricValue(1.0, 1)}, MetricValue(1.0, 1))
    with pytest.raises(PhenbenchError, match="condition named 'pooled'"):
        store.write(dataclasses.replace(record_for("run-a"), metrics=[clash]))
    twice = record_for("run-a").metrics[:1] * 2
    with pytest.raises(PhenbenchError, match="appear twice"):
        store.write(dataclasses.replace(record_for("run-a"), metrics=twice))
    objects = MetricResult("m", True, {}, MetricValue(1.0, 1), arrays={"mixed": np.array(["a", 1], dtype=object)})
    with pytest.raises(PhenbenchError, match="arrays of numbers or strings only"):
        store.write(dataclasses.replace(record_for("run-a"), metrics=[objects]))
    assert not store.path.exists()


def test_a_failure_just_before_the_rename_changes_nothing(store: ResultsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write(record_for("run-0"))
    before = store.path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(store_file.os, "replace", refuse)
    with pytest.raises(OSError, match="simulated"):
        store.write(record_for("run-a"))
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert not list(store.path.parent.glob(".results.h5.*.tmp"))
    assert store.run_ids() == ["run-0"]


def test_the_next_writer_removes_copies_left_by_a_killed_writer(store: ResultsStore) -> None:
    store.write(record_for("run-0"))
    stale = store.path.with_name(".results.h5.12345.deadbeef.tmp")
    stale.write_bytes(b"half a file")
    unrelated = [store.path.with_name(".other.h5.1.deadbeef.tmp"), store.path.with_name(".results.h5.bak.1.deadbeef.tmp")]
    for path in unrelated:  # another store's copies, possibly being written under its own lock
        path.write_bytes(b"not ours")
    store.write(record_for("run-a"))
    assert not stale.exists() and all(path.exists() for path in unrelated)
    assert sorted(store.run_ids()) == ["run-0", "run-a"]


def test_writing_through_a_symbolic_link_updates_its_target(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    real = ResultsStore(tmp_path / "data" / "results.h5")
    real.write(record_for("run-0"))
    link = tmp_path / "results.h5"
    link.symlink_to(real.path)
    ResultsStore(link).write(record_for("run-a"))
    assert link.is_symlink()
    assert sorted(real.run_ids()) == ["run-0", "run-a"]
    assert (tmp_path / "data" / "results.h5.lock").exists() and not (tmp_path / "results.h5.lock").exists()


def test_a_held_lock_times_out_with_a_clear_error(tmp_path: Path) -> None:
    import fcntl

    store = ResultsStore(tmp_path / "results.h5", lock_timeout=0.2)
    with open(store_file.lock_path_for(store.path), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another open file description: conflicts even in-process
        with pytest.raises(PhenbenchError, match=r"results.h5.lock for over 0 s; wait for its write"):
            store.write(record_for("run-a"))
    assert not store.path.exists()


def test_samples_are_stored_as_float16_whatever_they_came_as(store: ResultsStore) -> None:
    images = np.linspace(-1, 1, 2 * 4 * 8 * 8, dtype=np.float32).reshape(2, 4, 8, 8)
    store.write(dataclasses.replace(record_for("run-a"), samples={"DMSO": {"translated": images}}))
    got = store.read("run-a", samples=True).samples["DMSO"]["translated"]
    assert got.dtype == np.float16 and got.shape == (2, 4, 8, 8)
    np.testing.assert_allclose(got, images, atol=1e-3)


def test_empty_sample_arrays_round_trip(store: ResultsStore) -> None:
    empty = np.zeros((0, 2, 8, 8), dtype=np.float16)
    store.write(dataclasses.replace(record_for("run-a"), samples={"DMSO": {"source": empty}}))
    assert store.read("run-a", samples=True).samples["DMSO"]["source"].shape == (0, 2, 8, 8)


def test_reading_never_changes_the_file(store: ResultsStore) -> None:
    store.write(record_for("run-a"))
    before = (store.path.read_bytes(), store.path.stat().st_mtime_ns)
    store.run_ids(), store.read("run-a", samples=True), store.runs_frame(), store.metrics_frame()
    assert (store.path.read_bytes(), store.path.stat().st_mtime_ns) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only files anyway")
def test_readers_need_no_write_permission(store: ResultsStore) -> None:
    store.write(record_for("run-a"))
    os.chmod(store.path, 0o444)
    try:
        assert store.run_ids() == ["run-a"]
    finally:
        os.chmod(store.path, 0o644)


def test_docs_show_the_schema_as_defined() -> None:
    assert store_schema.schema_markdown() in DOCS.read_text(), (
        "docs/results_store.md is out of date: paste the output of `python -m phenbench.core.store_schema`"
    )


def test_reading_and_writing_the_store_imports_no_torch() -> None:
    """Store writers (and `compare`) start in a second: metric results are plain data (metric_result.py)."""
    code = (
        "import sys; from phenbench.core.store import ResultsStore; from phenbench.core.compare import comparison_text;"
        "from phenbench.core.metric_result import MetricResult, MetricValue; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
