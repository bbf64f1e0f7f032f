"""`bbbc021-impa`: IMPA's release layout, read from a generated miniature in exactly that layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from phenbench.cli import build_cli
from phenbench.core.errors import ConfigError, DataError, UnknownNameError
from phenbench.datasets.bbbc021 import impa_release
from phenbench.datasets.bbbc021.impa_adapter import Bbbc021ImpaDataset, ImpaConfig
from phenbench.datasets.h5cache import CacheWriter
from tests.datasets.bbbc021.mini_impa import PLATES, make_impa_release

COMPOUNDS = ["DMSO", "cytochalasin B", "docetaxel", "nocodazole", "taxol"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_impa_release(tmp_path_factory.mktemp("impa") / "bbbc021_mini")


def open_impa(release, tmp_path, **options) -> Bbbc021ImpaDataset:
    return Bbbc021ImpaDataset(ImpaConfig(root=str(release.root), cache_dir=str(tmp_path / "cache"), **options))


def test_per_compound_conditions_follow_the_release_split_and_annotations(release, tmp_path):
    dataset = open_impa(release, tmp_path)
    assert list(dataset.conditions.names) == COMPOUNDS and dataset.conditions.control == "DMSO"
    index = release.table
    for split in ("train", "test"):  # the release's SPLIT, row for row
        expected = index[index.SPLIT == split].groupby("CPD_NAME").size().to_dict()
        assert dataset.counts(split) == expected
    assert dataset.condition_moa() == dict(zip(index.CPD_NAME, index.ANNOT))
    assert set(dataset.batches("test")) == set(PLATES)


def test_images_are_the_npy_crops_scaled_to_minus_one_one(release, tmp_path):
    dataset = open_impa(release, tmp_path)
    meta = dataset.metadata("test")
    row = int(np.flatnonzero(meta["compound"] == "taxol")[3])
    key = meta["sample_key"][row]
    week, number, rest = key.split("_", 2)
    raw = np.load(release.root / week / number / f"{rest}.npy")  # H x W x 3 uint8
    expected = torch.from_numpy(raw.transpose(2, 0, 1).astype(np.float32)) / 255 * 2 - 1
    assert torch.allclose(dataset.read("test", [row])[0], expected, atol=1e-6)
    assert meta["plate"][row] == f"{week}_{number}"


def test_conditions_per_dose_and_cellflux_numeric_states_read_the_same(tmp_path):
    release = make_impa_release(tmp_path / "numeric", numeric_state=True)  # CellFlux's STATE 0/1
    dataset = open_impa(release, tmp_path, conditions="compound@dose")
    assert list(dataset.conditions.names) == ["DMSO", "cytochalasin B@3", "docetaxel@0.1", "nocodazole@1",
                                              "taxol@0.3", "taxol@1"]
    assert dataset.conditions.dose_series("taxol") == ["taxol@0.3", "taxol@1"]
    assert dataset.condition_moa()["taxol@1"] == "Microtubule stabilizers"


def test_held_out_compounds_leave_training_and_stay_in_test(release, tmp_path):
    dataset = open_impa(release, tmp_path, held_out_compounds=("docetaxel",))
    assert dataset.spec.unseen == ("docetaxel",)
    assert dataset.counts("train")["docetaxel"] == 0 and dataset.counts("test")["docetaxel"] == 9
    assert dataset.content_hash() != open_impa(release, tmp_path).content_hash()
    with pytest.raises(UnknownNameError, match="Did you mean: docetaxel"):
        open_impa(release, tmp_path, held_out_compounds=("docetaxol",))
    with pytest.raises(ConfigError, match="control DMSO"):
        open_impa(release, tmp_path, held_out_compounds=("DMSO",))


def test_conversion_streams_a_bounded_number_of_crops_at_a_time(release, tmp_path, monkeypatch):
    sizes = []
    append = CacheWriter.append
    monkeypatch.setattr(impa_release, "BATCH", 16)
    monkeypatch.setattr(CacheWriter, "append", lambda self, images, meta: (sizes.append(len(images)),
                                                                            append(self, images, meta))[1])
    dataset = open_impa(release, tmp_path)
    assert max(sizes) == 16 and sum(sizes) == len(release.table)
    assert sum(dataset.counts("train").values()) + sum(dataset.counts("test").values()) == len(release.table)


def _copy(release, tmp_path) -> Path:
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(release.root, root)
    return root


def test_a_missing_column_or_crop_is_one_clear_line(release, tmp_path):
    root = _copy(release, tmp_path)
    index = root / "metadata" / "bbbc021_mini.csv"
    pd.read_csv(index, index_col=0).drop(columns="ANNOT").to_csv(index)
    with pytest.raises(DataError, match=r"lacks the column\(s\) ANNOT"):
        Bbbc021ImpaDataset(ImpaConfig(root=str(root), cache_dir=str(tmp_path / "c")))
    release.table.to_csv(index)
    missing = root / "Week2" / "24121" / "W03_1.npy"
    missing.unlink()
    with pytest.raises(DataError, match=r"W03_1\.npy of SAMPLE_KEY 'Week2_24121_W03_1' .* is missing"):
        Bbbc021ImpaDataset(ImpaConfig(root=str(root), cache_dir=str(tmp_path / "c")))
    result = CliRunner().invoke(build_cli(), ["run", "-q", "-d", "bbbc021-impa", "--data", str(root),
                                              "--store", str(tmp_path / "r.h5"), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")][0].endswith("the A/B/ crop folders).")


def test_other_malformed_index_rows_are_named(release, tmp_path):
    root = _copy(release, tmp_path)
    index = root / "metadata" / "bbbc021_mini.csv"
    for column, value, says in (("SPLIT", "val", "line 5: SPLIT 'val'"), ("STATE", "maybe", "line 5: STATE 'maybe'"),
                                ("SAMPLE_KEY", "nokey", "line 5: SAMPLE_KEY 'nokey'")):
        table = release.table.copy()
        table[column] = table[column].astype(object)
        table.loc[3, column] = value
        table.to_csv(index)
        with pytest.raises(DataError, match=says):
            Bbbc021ImpaDataset(ImpaConfig(root=str(root), cache_dir=str(tmp_path / "c")))
    (root / "metadata" / "second.csv").write_text("x\n")
    with pytest.raises(DataError, match="2 CSVs"):
        Bbbc021ImpaDataset(ImpaConfig(root=str(root), cache_dir=str(tmp_path / "c")))
