"""`phenbench data prepare/download` and `phenbench run` on the real crops, through the CLI."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from phenbench.cli import build_cli
from phenbench.core.store import ResultsStore
from phenbench.datasets.bbbc021.adapter import Bbbc021Config, Bbbc021Dataset
from tests.datasets.bbbc021.mini_release import DEFAULT_FIELDS, make_release
from tests.datasets.shared_data import CROPS, requires_shared_bbbc021


def test_data_prepare_writes_a_cache_and_prints_the_report(tmp_path: Path) -> None:
    make_release(tmp_path / "release", fields=DEFAULT_FIELDS, nuclei=3)
    out = tmp_path / "mini.h5"
    result = CliRunner().invoke(build_cli(), [
        "data", "prepare", "bbbc021", "--root", str(tmp_path / "release"), "--out", str(out),
        "--crop-size", "32", "--compounds", "taxol", "--plates", "Week1_22123", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    assert "taxol@1" in result.output and "Skipped fields: none." in result.output
    with h5py.File(out) as f:
        assert f["images"].shape == (12, 3, 32, 32)


def test_data_prepare_bad_input_is_one_line(tmp_path: Path) -> None:
    make_release(tmp_path / "release", fields=DEFAULT_FIELDS[1:3], nuclei=2)
    result = CliRunner().invoke(build_cli(), [
        "data", "prepare", "bbbc021", "--root", str(tmp_path / "release"), "--out", str(tmp_path / "x.h5"),
        "--compounds", "taxoll", "--quiet",
    ])
    assert result.exit_code == 2
    assert "Unknown compound 'taxoll'. Did you mean: taxol?" in result.output
    assert "Traceback" not in result.output


def test_data_download_lists_the_release() -> None:
    result = CliRunner().invoke(build_cli(), ["data", "download", "bbbc021", "--list", "--plates", "Week10_40119"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == (
        "https://data.broadinstitute.org/bbbc/BBBC021/BBBC021_v1_images_Week10_40119.zip"
    )


@requires_shared_bbbc021
def test_run_identity_on_the_real_crops_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crops_cache_dir: Path
) -> None:
    monkeypatch.setenv("PHENBENCH_CACHE_DIR", str(crops_cache_dir))
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "results.h5"
    (tmp_path / "run.yaml").write_text("dataset_config:\n  image_size: 16\n")
    result = CliRunner().invoke(build_cli(), [
        "run", "--translator", "identity", "--dataset", "bbbc021", "--data", str(CROPS), "--config", "run.yaml",
        "--store", str(store), "--metrics", "reconstruction", "--max-test-per-condition", "8",
        "--pairs", "from-control", "--device", "cpu", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    runs = ResultsStore(store).runs_frame()
    assert list(runs.status) == ["complete"] and list(runs.dataset) == ["bbbc021"]
    expected = Bbbc021Dataset(Bbbc021Config(root=str(CROPS), image_size=16)).content_hash()
    assert runs.dataset_hash[0] == expected
    values = ResultsStore(store).metrics_frame()
    mse = values[values.metric == "reconstruction/mse"].set_index("condition")
    # from-control: DMSO -> each dose; identity reconstructs each target's real test images exactly.
    assert set(mse.index) == {"cyclohexamide@5", "cyclohexamide@15", "cyclohexamide@50", "pooled"}
    assert (mse.value == 0).all() and mse.n["cyclohexamide@50"] == 8 and mse.n["pooled"] == 24


@pytest.mark.slow
@requires_shared_bbbc021
def test_run_phendiff_quick_on_the_real_crops_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crops_cache_dir: Path
) -> None:
    """The issue's `--preset quick` run, shrunk (16 px, 10 steps, 4 test images) to CI size."""
    monkeypatch.setenv("PHENBENCH_CACHE_DIR", str(crops_cache_dir))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text(
        "dataset_config:\n  image_size: 16\n"
        "translator_config:\n  steps: 10\n  batch_size: 8\n  inversion_steps: 4\n  inference_steps: 4\n"
    )
    store = tmp_path / "results.h5"
    result = CliRunner().invoke(build_cli(), [
        "run", "--config", "run.yaml", "--translator", "phendiff", "--dataset", "bbbc021", "--data", str(CROPS),
        "--preset", "quick", "--store", str(store), "--work-dir", str(tmp_path / "runs"), "--device", "cpu",
        "--max-test-per-condition", "4", "--pairs", "from-control", "--metrics", "reconstruction", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    values = ResultsStore(store).metrics_frame()
    # The run also stored the identity baseline on the same rows: PhenDiff's row is the one tested.
    values = values[values["translator"] == "phendiff"].set_index(["metric", "condition"])
    mse = values.loc[("reconstruction/mse", "pooled")]
    # A barely trained model reconstructs, imperfectly: a real, finite error above zero.
    assert mse.n == 12 and 0 < mse.value < 4
    # The saved model keeps its preset, and the inversion time per source image is recorded.
    runs = ResultsStore(store).runs_frame()
    record = ResultsStore(store).read(runs.loc[runs["translator"] == "phendiff", "run_id"].iloc[-1])
    assert record.preset == "quick" and record.timings["invert_seconds_per_image"] > 0
