"""`prepare loaddata` on generated miniature screens: crops on the drawn nuclei, any channel count,
pages of one TIFF, CellProfiler's own nuclei, and the same cells as BBBC021's preset."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from phenbench.datasets.bbbc021.prepare import PrepareOptions, prepare_bbbc021
from phenbench.datasets.screen.adapter import ScreenConfig, ScreenDataset
from phenbench.datasets.screen.loaddata import LoadDataColumns
from phenbench.datasets.screen.prepare import LoadDataOptions, prepare_loaddata
from tests.datasets.bbbc021.mini_release import make_release
from tests.datasets.screen.conftest import CROP, prepare_cli
from tests.datasets.screen.mini_screen import ScreenSpec, make_screen, nuclei_table

CONDITIONS = ["DMSO", "nocodazole@0.3", "nocodazole@3", "taxol@0.1", "taxol@1"]


def nearest_truth(meta: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """For each cell, the distance (px) to the nearest drawn nucleus of its own field."""
    distances = []
    for cell in meta.itertuples():
        same = truth[(truth.plate == cell.plate) & (truth.well == cell.well)]
        distances.append(np.hypot(same.row - cell.centre_row, same.col - cell.centre_col).min())
    return np.array(distances)


def dna_centroids(cache: Path) -> np.ndarray:
    """Intensity centroid (row, col) of the nucleus channel inside each crop (background removed)."""
    with h5py.File(cache) as f:
        dna = f["images"][:, 0].astype(np.float64)
    weights = np.clip(dna - 2000, 0, None)
    yy, xx = np.mgrid[: dna.shape[1], : dna.shape[2]]
    return np.stack([(weights * yy).sum((1, 2)), (weights * xx).sum((1, 2))], 1) / weights.sum((1, 2))[:, None]


def test_five_channels_crops_are_centred_on_the_drawn_nuclei(screen) -> None:
    data = ScreenDataset(ScreenConfig(root=str(screen.cache)))
    assert list(data.conditions.names) == CONDITIONS and data.conditions.control == "DMSO"
    assert data.spec.channels == ("DNA", "RNA", "ER", "AGP", "Mito") and data.spec.image_size == CROP
    meta = pd.concat([data.metadata("train"), data.metadata("test")], ignore_index=True)
    inner = screen.truth[~screen.truth.border]
    assert len(meta) == len(inner) == 60  # every inner nucleus once, no border one
    assert nearest_truth(meta, inner).max() <= 2.0
    assert len(meta.groupby(["plate", "well", "centre_row", "centre_col"])) == 60
    np.testing.assert_allclose(dna_centroids(screen.cache), CROP // 2, atol=2.0)
    # Plates and wells kept; split by plate: one whole plate on each side, every condition in both.
    assert {p for p in data.metadata("train").plate} | {p for p in data.metadata("test").plate} == {"P1", "P2"}
    assert set(data.metadata("train").plate).isdisjoint(set(data.metadata("test").plate))
    assert set(data.batches("test")) == set(data.metadata("test").plate)
    assert data.wells("test")[0].startswith(data.metadata("test").plate[0] + "/B")


def test_the_report_counts_cells_per_condition_and_nuclei_at_the_border(screen) -> None:
    lines = screen.output.splitlines()
    for condition in CONDITIONS:  # 6 drawn inner nuclei per field, one field per plate and condition
        assert any(line.split() == [condition, "6", "6"] for line in lines), screen.output
    border = int(screen.truth.border.sum())
    assert border == 10
    assert f"Nuclei dropped because their crop would leave the field: {border}." in lines
    assert "Skipped fields: none." in lines


def test_the_treatment_shows_in_its_channel(screen) -> None:
    """taxol brightens channel 1 (RNA) with its dose in the generator: the cached crops keep that."""
    data = ScreenDataset(ScreenConfig(root=str(screen.cache), normalization="fixed"))
    means = {}
    for split in ("train", "test"):
        labels = data.labels(split)
        images = data.read(split, np.arange(len(labels)))
        for index, name in enumerate(data.conditions.names):
            means.setdefault(name, []).append(float(images[labels == index, 1].mean()))
    rna = {name: np.mean(values) for name, values in means.items()}
    assert rna["DMSO"] < rna["taxol@0.1"] < rna["taxol@1"]
    assert rna["nocodazole@3"] == pytest.approx(rna["DMSO"], abs=0.002)


def test_two_channels_as_png_one_file_each(tmp_path: Path) -> None:
    spec = ScreenSpec(channels=("Hoechst", "GFP"), treatments=(("DMSO", 0.0), ("drug", 1.0)), size=256, nuclei=3,
                      border_nuclei=1, suffix=".png")
    truth = make_screen(tmp_path, spec)
    report = prepare_loaddata(LoadDataOptions(
        table=str(tmp_path / "load_data.csv"), out=str(tmp_path / "two.h5"), crop_size=48, split_by="plate",
        columns=LoadDataColumns(channels=("Hoechst", "GFP"), dose="Metadata_Concentration"),
    ), progress=False)
    assert report.cells == {"train": {"DMSO": 3, "drug@1": 3}, "test": {"DMSO": 3, "drug@1": 3}}
    data = ScreenDataset(ScreenConfig(root=str(tmp_path / "two.h5")))
    assert data.spec.channels == ("Hoechst", "GFP") and data.reader.dtype == np.uint16
    meta = pd.concat([data.metadata(s) for s in ("train", "test")], ignore_index=True)
    assert nearest_truth(meta, truth[~truth.border]).max() <= 2.0
    # With illumination correction: one flat field per plate, of the fields' size and channel count.
    corrected = prepare_loaddata(LoadDataOptions(
        table=str(tmp_path / "load_data.csv"), out=str(tmp_path / "flat.h5"), crop_size=48, split_by="plate",
        illumination=True, columns=LoadDataColumns(channels=("Hoechst", "GFP"), dose="Metadata_Concentration"),
    ), progress=False)
    assert corrected.cells == report.cells
    flats = sorted((tmp_path / "flat.h5.work").glob("illumination-*/*.npy"))
    assert [f.name for f in flats] == ["P1.npy", "P2.npy"] and np.load(flats[0]).shape == (2, 256, 256)


def test_one_multipage_tiff_per_field_by_frames_or_stack(tmp_path: Path) -> None:
    spec = ScreenSpec(channels=("DNA", "RNA", "Mito"), treatments=(("DMSO", 0.0), ("drug", 1.0)), size=256, nuclei=3,
                      border_nuclei=0, layout="frames", prefix="Image_")
    truth = make_screen(tmp_path, spec)
    columns = LoadDataColumns(channels=("DNA", "RNA", "Mito"), dose="Metadata_Concentration")
    framed = prepare_loaddata(LoadDataOptions(table=str(tmp_path / "load_data.csv"), out=str(tmp_path / "f.h5"),
                                              crop_size=48, columns=columns), progress=False)
    assert sum(framed.cells["train"].values()) + sum(framed.cells["test"].values()) == len(truth) == 12
    # The same files through --stack (pages in channel order) give the same crops.
    table = pd.read_csv(tmp_path / "load_data.csv")
    stack = table.filter(like="Metadata").assign(Image_FileName_Field=table.Image_FileName_DNA,
                                                  Image_PathName_Field=table.Image_PathName_DNA)
    stack.to_csv(tmp_path / "stack.csv", index=False)
    prepare_loaddata(LoadDataOptions(table=str(tmp_path / "stack.csv"), out=str(tmp_path / "s.h5"), crop_size=48,
                                     columns=LoadDataColumns(channels=columns.channels, dose=columns.dose, stack="Field")),
                     progress=False)
    with h5py.File(tmp_path / "f.h5") as a, h5py.File(tmp_path / "s.h5") as b:
        np.testing.assert_array_equal(a["images"][:], b["images"][:])
        # Each crop's channels are the file's pages: channel 2 (Mito) is the brightest blob.
        assert (a["images"][:, 2].max(axis=(1, 2)) > a["images"][:, 1].max(axis=(1, 2))).all()


def test_cellprofiler_nuclei_are_cropped_instead_of_segmenting(screen, tmp_path: Path) -> None:
    nuclei = nuclei_table(screen.truth, keep=2)  # two of each field's drawn nuclei, sub-pixel centres
    nuclei.to_csv(tmp_path / "Nuclei.csv", index=False)
    report = prepare_loaddata(LoadDataOptions(
        table=str(screen.root / "load_data.csv"), out=str(tmp_path / "given.h5"), crop_size=CROP, split_by="plate",
        columns=LoadDataColumns(dose="Metadata_Concentration"), nuclei=str(tmp_path / "Nuclei.csv"),
    ), progress=False)
    assert sum(sum(c.values()) for c in report.cells.values()) == 20 and report.dropped_at_edge == 0
    with h5py.File(tmp_path / "given.h5") as f:
        rows, cols = f["meta/centre_row"][:], f["meta/centre_col"][:]
    # The centres given (the drawn ones, shifted by less than half a pixel), not segmented ones.
    kept = screen.truth.groupby(["plate", "well"], sort=False).head(2)
    assert sorted(zip(rows.tolist(), cols.tolist())) == sorted(zip(kept.row, kept.col))
    # Joined by ImageNumber when the table lacks the plate and well: the same crops.
    nuclei.drop(columns=["Metadata_Plate", "Metadata_Well", "Metadata_Site"]).to_csv(tmp_path / "ByNumber.csv", index=False)
    prepare_loaddata(LoadDataOptions(
        table=str(screen.root / "load_data.csv"), out=str(tmp_path / "number.h5"), crop_size=CROP, split_by="plate",
        columns=LoadDataColumns(dose="Metadata_Concentration"), nuclei=str(tmp_path / "ByNumber.csv"),
    ), progress=False)
    with h5py.File(tmp_path / "given.h5") as a, h5py.File(tmp_path / "number.h5") as b:
        assert a.attrs["content_sha256"] == b.attrs["content_sha256"]


def test_bbbc021_is_a_preset_of_the_loaddata_pipeline(tmp_path: Path) -> None:
    """BBBC021's image table through the general LoadData preparation, with its column names: the
    same cells and crops as `prepare bbbc021`."""
    root = tmp_path / "release"
    make_release(root, nuclei=3)
    prepare_bbbc021(PrepareOptions(root=str(root), out=str(tmp_path / "preset.h5"), crop_size=48), progress=False)
    columns = LoadDataColumns(channels=("DAPI", "Tubulin", "Actin"), treatment="Image_Metadata_Compound",
                              dose="Image_Metadata_Concentration", plate="Image_Metadata_Plate_DAPI",
                              well="Image_Metadata_Well_DAPI")
    prepare_loaddata(LoadDataOptions(table=str(root / "BBBC021_v1_image.csv"), out=str(tmp_path / "general.h5"),
                                     crop_size=48, columns=columns), progress=False)
    with h5py.File(tmp_path / "preset.h5") as a, h5py.File(tmp_path / "general.h5") as b:
        np.testing.assert_array_equal(a["images"][:], b["images"][:])
        for column in ("centre_row", "centre_col", "split"):
            np.testing.assert_array_equal(a[f"meta/{column}"][:], b[f"meta/{column}"][:])
        assert a.attrs["channels"] == b.attrs["channels"] and a.attrs["control"] == b.attrs["control"]
    preset = ScreenDataset(ScreenConfig(root=str(tmp_path / "preset.h5")))
    general = ScreenDataset(ScreenConfig(root=str(tmp_path / "general.h5")))
    assert preset.conditions.names == general.conditions.names == ("DMSO", "taxol@1")
