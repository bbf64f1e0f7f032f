"""Preparing a generated miniature release: crops centred on nuclei, resume, workers, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import tifffile

from phenbench.core.errors import DataError
from phenbench.datasets.bbbc021.adapter import Bbbc021Config, Bbbc021Dataset
from phenbench.datasets.bbbc021.prepare import PrepareOptions, prepare_bbbc021
from tests.datasets.bbbc021.mini_release import DEFAULT_FIELDS, FieldSpec, make_release

CROP = 48


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("release")
    return root, make_release(root)


def _prepare(root: Path, out: Path, **options) -> tuple:
    options = {"crop_size": CROP, **options}
    report = prepare_bbbc021(PrepareOptions(root=str(root), out=str(out), **options), progress=False)
    return report, out


def test_crops_are_centred_on_the_nuclei(release, tmp_path: Path) -> None:
    root, truth = release
    report, cache = _prepare(root, tmp_path / "mini.h5")
    assert report.fields == 4 and report.skipped == {} and report.dropped_at_edge == 0
    data = Bbbc021Dataset(Bbbc021Config(root=str(cache), image_size=None, normalization="plate"))
    assert list(data.conditions.names) == ["DMSO", "taxol@1"]
    assert data.spec.channels == ("DAPI", "Tubulin", "Actin") and data.spec.image_size == CROP
    meta = pd.concat([data.metadata("train"), data.metadata("test")], ignore_index=True)
    assert len(meta) == len(truth) == 24
    found = sorted(zip(meta.ImageNumber, meta.centre_row, meta.centre_col))
    expected = sorted(zip(truth.ImageNumber, truth.row, truth.col))
    for (i, r, c), (j, tr, tc) in zip(found, expected):
        assert i == j and abs(r - tr) <= 1 and abs(c - tc) <= 1
    # The DAPI disc is in the middle of every crop: its intensity centroid is the crop centre.
    with h5py.File(cache) as f:
        dapi = f["images"][:, 0].astype(np.float64)
    weights = np.clip(dapi - 2000, 0, None)
    yy, xx = np.mgrid[:CROP, :CROP]
    rows = (weights * yy).sum((1, 2)) / weights.sum((1, 2))
    cols = (weights * xx).sum((1, 2)) / weights.sum((1, 2))
    np.testing.assert_allclose(rows, CROP // 2, atol=1.0)
    np.testing.assert_allclose(cols, CROP // 2, atol=1.0)
    # Whole wells on each side of the split.
    wells = lambda t: set(t.plate + "/" + t.well)  # noqa: E731
    assert not wells(data.metadata("train")) & wells(data.metadata("test"))


def test_prepare_resumes_and_workers_give_the_same_cache(release, tmp_path: Path) -> None:
    root, _ = release
    first, cache = _prepare(root, tmp_path / "a.h5")
    again, _ = _prepare(root, tmp_path / "a.h5")
    assert first.fields_done_before == 0 and again.fields_done_before == 4
    # Other crop options never reuse the stale per-field crops.
    bigger, big = _prepare(root, tmp_path / "c.h5", crop_size=CROP + 16, work_dir=str(tmp_path / "a.h5.work"))
    assert bigger.fields_done_before == 0
    with h5py.File(big) as f:
        assert f["images"].shape[-1] == CROP + 16
    parallel, other = _prepare(root, tmp_path / "b.h5", workers=2)
    with h5py.File(cache) as a, h5py.File(other) as b:
        assert a.attrs["content_sha256"] == b.attrs["content_sha256"]
    assert not list(tmp_path.glob(".*tmp*"))


def test_illumination_correction_flattens_a_vignetted_plate(tmp_path: Path) -> None:
    root = tmp_path / "release"
    make_release(root, nuclei=4)
    yy, xx = np.mgrid[:1024, :1280]
    vignette = 1.0 - 0.4 * (((yy - 512) / 512) ** 2 + ((xx - 640) / 640) ** 2) / 2
    for tif in root.rglob("*.tif"):
        tifffile.imwrite(tif, (tifffile.imread(tif) * vignette).astype(np.uint16))
    _prepare(root, tmp_path / "flat.h5", illumination=True)
    flat = np.load(tmp_path / "flat.h5.work" / "illumination" / "Week1_22123.npy")  # noqa
    # The flat field recovers the vignette's shape (up to scale): centre/corner ratio about 1/0.6.
    ratio = flat[1, 512, 640] / flat[1, 40, 40]
    assert 1.35 < ratio < 1.75


@pytest.fixture
def damaged(release, tmp_path: Path) -> Path:
    root, _ = release
    copy = tmp_path / "damaged"
    shutil.copytree(root, copy)
    return copy


def _field_files(root: Path, image_number: int) -> list[Path]:
    table = pd.read_csv(root / "BBBC021_v1_image.csv")
    row = table[table.ImageNumber == image_number].iloc[0]
    return [root / row[f"Image_PathName_{c}"] / row[f"Image_FileName_{c}"] for c in ("DAPI", "Tubulin", "Actin")]


def test_bad_fields_are_skipped_and_counted_or_stop_a_strict_run(damaged: Path, tmp_path: Path) -> None:
    missing = _field_files(damaged, 1)[1]
    missing.unlink()
    corrupt = _field_files(damaged, 2)[0]
    corrupt.write_bytes(b"II*\x00 this is not a tiff")
    odd = _field_files(damaged, 3)[2]
    tifffile.imwrite(odd, np.zeros((512, 640), np.uint16))
    report, _ = _prepare(damaged, tmp_path / "d.h5")
    assert report.skipped == {"missing TIFF": 1, "corrupt TIFF": 1, "channels of different shapes": 1}
    assert any(missing.name in e for e in report.examples) and any(corrupt.name in e for e in report.examples)
    assert any("Skipped fields: 1 channels of different shapes, 1 corrupt TIFF, 1 missing TIFF" in line
               for line in report.lines())
    with pytest.raises(DataError, match=rf"{missing.name} is missing: download its plate again"):
        _prepare(damaged, tmp_path / "strict.h5", strict=True, work_dir=str(tmp_path / "w2"))
    assert not (tmp_path / "strict.h5").exists()


def test_metadata_problems_are_clear(tmp_path: Path) -> None:
    root = tmp_path / "release"
    make_release(root, fields=(FieldSpec("Week1_22123", "B02", "DMSO", 0.0),), quoted=False, line_ending="\r")
    table = pd.read_csv(root / "BBBC021_v1_image.csv", lineterminator="\r")
    assert len(table) == 1 and table.Image_Metadata_Concentration[0] == 0.0
    table.drop(columns="Replicate").to_csv(root / "BBBC021_v1_image.csv", index=False)
    with pytest.raises(DataError, match=r"lacks the column\(s\) Replicate"):
        _prepare(root, tmp_path / "x.h5")
    with pytest.raises(DataError, match="does not exist"):
        _prepare(tmp_path / "nowhere", tmp_path / "x.h5")


def test_unquoted_cr_only_metadata_prepares(tmp_path: Path) -> None:
    root = tmp_path / "release"
    make_release(root, fields=DEFAULT_FIELDS[:2], quoted=False, line_ending="\r", nuclei=3)
    report, cache = _prepare(root, tmp_path / "cr.h5")
    assert report.cells == {"train": {"DMSO": 3}, "test": {"DMSO": 3}}
    assert (tmp_path / "cr.h5.report.json").is_file()


def test_prepare_never_replaces_a_file_it_did_not_write(release, tmp_path: Path) -> None:
    from phenbench.core.errors import ConfigError
    from phenbench.core.store import ResultsStore
    from tests.core.store_workers.records import record_for

    root, _ = release
    store = tmp_path / "results.h5"
    ResultsStore(store).write(record_for("r-1", image_size=8, n_samples=1))
    before = store.read_bytes()
    with pytest.raises(DataError, match=r"--out .*results.h5 exists and is not a cache written by .* --overwrite"):
        _prepare(root, store)
    assert store.read_bytes() == before and not (tmp_path / "results.h5.work").exists()
    with pytest.raises(DataError, match="is a folder; give the cache's file name"):
        _prepare(root, tmp_path)
    for size in (0, -5):
        with pytest.raises(ConfigError, match=f"--crop-size must be at least 8 pixels .* got {size}"):
            _prepare(root, tmp_path / "small.h5", crop_size=size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5", "results.h5.lock"]
    # A cache prepare wrote is prepared again in place; anything else only with overwrite.
    _prepare(root, tmp_path / "mini.h5")
    _prepare(root, tmp_path / "mini.h5", split_seed=1)
    _prepare(root, store, overwrite=True)
    assert h5py.File(store, "r").attrs["format"] == "phenbench-crops-2"
