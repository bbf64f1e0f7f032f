"""The real BBBC021 crops in ../shared through the bbbc021 adapter, and crop-table errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from phenbench.core.errors import ConfigError, DataError, UnknownNameError
from phenbench.datasets.bbbc021.adapter import Bbbc021Config, Bbbc021Dataset
from tests.datasets.shared_data import CROPS, SHARED_BBBC021, requires_shared_bbbc021

CONDITIONS = ["DMSO", "cyclohexamide@5", "cyclohexamide@15", "cyclohexamide@50"]


@pytest.fixture(scope="module")
def cache_dir(crops_cache_dir: Path) -> Path:
    return crops_cache_dir


@pytest.fixture(scope="module")
def native(cache_dir: Path) -> Bbbc021Dataset:
    """The shared crops at their own 68 x 68 (conversion happens once per module)."""
    return Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), image_size=None))


@pytest.fixture(scope="module")
def manifest() -> pd.DataFrame:
    return pd.read_csv(CROPS / "manifest.csv")


@requires_shared_bbbc021
def test_real_crops_load_as_four_conditions_with_counts_per_split(native: Bbbc021Dataset, manifest) -> None:
    assert list(native.conditions.names) == CONDITIONS
    assert native.conditions.dose_series("cyclohexamide") == CONDITIONS[1:]
    assert native.spec.channels == ("DAPI", "ch1", "ch2") and native.spec.image_size == 68
    expected = manifest.groupby("compound").size()  # independent count from the manifest
    counts = native.counts_table()
    assert counts["train"]["DMSO"] + counts["test"]["DMSO"] == expected["DMSO"] == 1561
    for dose, n in ((5, 108), (15, 388), (50, 382)):
        name = f"cyclohexamide@{dose}"
        assert counts["train"][name] + counts["test"][name] == n
        assert 0 < counts["test"][name] < counts["train"][name]
    assert counts["test"]["DMSO"] in (361, 400)  # exactly one whole well of DMSO is held out


@requires_shared_bbbc021
def test_no_well_or_field_is_on_both_sides(native: Bbbc021Dataset) -> None:
    levels = native.split_levels()
    assert levels["DMSO"] == "well" and levels["cyclohexamide@50"] == "field"
    assert levels["cyclohexamide@5"] == "cell"  # its 108 cells come from a single field
    train, test = native.metadata("train"), native.metadata("test")
    dmso = lambda t: set(t.loc[t.condition == "DMSO", "plate"] + "/" + t.loc[t.condition == "DMSO", "well"])  # noqa: E731
    assert not dmso(train) & dmso(test)
    for name in ("cyclohexamide@15", "cyclohexamide@50"):
        fields = lambda t: set(t.loc[t.condition == name, "field"])  # noqa: E731
        assert not fields(train) & fields(test)


@requires_shared_bbbc021
def test_read_streams_the_right_crops_and_denormalizes_to_raw(native: Bbbc021Dataset) -> None:
    meta = native.metadata("test")
    rows = [7, 2, 7, len(meta) - 1]  # out of order, repeated
    images = native.read("test", rows)
    assert images.dtype == torch.float32 and images.shape == (4, 3, 68, 68)
    assert images.min() >= -1 and images.max() <= 1
    raw = native.denormalize(images, "test", rows)
    for k, row in enumerate(rows):
        with np.load(CROPS / meta.file[row]) as npz:
            truth = np.moveaxis(npz["crops"][meta.row_in_file[row]], -1, 0).astype(np.float32)
        unclipped = images[k].abs().numpy() < 0.999
        assert unclipped.mean() > 0.9
        np.testing.assert_allclose(raw[k][unclipped], truth[unclipped], rtol=1e-4, atol=0.5)


@requires_shared_bbbc021
def test_the_graded_dose_response_survives_normalisation(native: Bbbc021Dataset) -> None:
    # README: plate Week4_27801, mean raw channel 2 = 2262, 3468, 3894, 4302 at 0, 5, 15, 50 uM.
    means = []
    for name in CONDITIONS:
        rows = [r for r in native.rows("train", name)]
        meta = native.metadata("train").iloc[rows]
        rows = [r for r, plate in zip(rows, meta.plate) if plate == "Week4_27801"]
        means.append(float(native.read("train", rows)[:, 2].mean()))
    assert means == sorted(means) and means[-1] - means[0] > 0.05


@requires_shared_bbbc021
def test_configured_size_hash_and_cache_reuse(native: Bbbc021Dataset, cache_dir: Path) -> None:
    files = set(cache_dir.glob("bbbc021-crops-*.h5"))
    small = Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), image_size=32))
    padded = Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), image_size=96, resize="pad"))
    assert set(cache_dir.glob("bbbc021-crops-*.h5")) == files  # read options do not convert again
    assert small.read("train", [0]).shape == (1, 3, 32, 32)
    big = padded.read("train", [0])
    assert big.shape == (1, 3, 96, 96) and (big[..., :14, :] == -1).all()
    torch.testing.assert_close(big[..., 14:82, 14:82], native.read("train", [0]))
    again = Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), image_size=None))
    assert again.content_hash() == native.content_hash() != small.content_hash()
    # A worker process reopens the file itself (an h5py handle must not cross a fork).
    loader = torch.utils.data.DataLoader(small.torch_dataset("test"), batch_size=5, num_workers=1)
    images, labels = next(iter(loader))
    assert images.shape == (5, 3, 32, 32) and labels.tolist() == small.labels("test")[:5].tolist()
    torch.testing.assert_close(images, small.read("test", range(5)))


@requires_shared_bbbc021
def test_selection_and_split_errors(native: Bbbc021Dataset, cache_dir: Path) -> None:
    only = Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), concentrations=(50.0,)))
    assert list(only.conditions.names) == ["DMSO", "cyclohexamide@50"]
    assert only.content_hash() != native.content_hash()
    # MoA comes from ../metadata/BBBC021_v1_moa.csv beside the crop table.
    by_moa = Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), moas=("Protein synthesis",)))
    assert list(by_moa.conditions.names) == CONDITIONS
    with pytest.raises(UnknownNameError, match="Did you mean: Protein synthesis"):
        Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), moas=("protein synthesis",)))
    with pytest.raises(UnknownNameError, match="Did you mean: cyclohexamide"):
        Bbbc021Dataset(Bbbc021Config(root=str(CROPS), cache_dir=str(cache_dir), compounds=("cycloheximide",)))
    with pytest.raises(ConfigError, match="split with by=well"):
        Bbbc021Dataset(Bbbc021Config(root=str(native.reader.path), split_by="plate"))
    with pytest.raises(DataError, match="raw BBBC021 release: prepare it once"):
        Bbbc021Dataset(Bbbc021Config(root=str(SHARED_BBBC021)))


def _table(root: Path, counts: dict[str, int], size: int = 12) -> Path:
    """A tiny crop table: one npz per condition, cells in 2 wells x 2 fields."""
    rng = np.random.default_rng(0)
    rows = []
    root.mkdir(parents=True, exist_ok=True)
    for name, n in counts.items():
        compound, _, dose = name.partition("@")
        np.savez(root / f"{compound}{dose}.npz", crops=rng.integers(0, 4000, (n, size, size, 3), dtype=np.uint16))
        for i in range(n):
            rows.append({"file": f"{compound}{dose}.npz", "row_in_file": i, "plate": "P1",
                         "well": f"{compound[0]}{i % 2}", "compound": compound,
                         "concentration": float(dose or 0), "TableNumber": 1, "ImageNumber": i % 4})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def test_crop_table_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    def load(root: Path) -> Bbbc021Dataset:
        return Bbbc021Dataset(Bbbc021Config(root=str(root), cache_dir=str(tmp_path / "cache")))

    ok = _table(tmp_path / "ok", {"DMSO": 8, "taxol@1": 8})
    assert load(ok).counts("train") == {"DMSO": 4, "taxol@1": 4}

    no_column = _table(tmp_path / "col", {"DMSO": 4, "taxol@1": 4})
    pd.read_csv(no_column / "manifest.csv").drop(columns="well").to_csv(no_column / "manifest.csv", index=False)
    with pytest.raises(DataError, match=r"manifest.csv lacks the column\(s\) well"):
        load(no_column)

    missing = _table(tmp_path / "missing", {"DMSO": 4, "taxol@1": 4})
    (missing / "taxol1.npz").unlink()
    with pytest.raises(DataError, match=r"taxol1.npz named in the manifest is missing"):
        load(missing)

    corrupt = _table(tmp_path / "corrupt", {"DMSO": 4, "taxol@1": 4})
    (corrupt / "taxol1.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=r"taxol1.npz is corrupt"):
        load(corrupt)

    single = _table(tmp_path / "single", {"DMSO": 4, "taxol@1": 1})
    with pytest.raises(DataError, match="'taxol@1' has a single cell"):
        load(single)
    assert not any(p.name.endswith(".h5") and "tmp" in p.name for p in (tmp_path / "cache").iterdir())

    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_a_crop_table_that_would_be_read_wrongly_is_refused_row_by_row(tmp_path: Path) -> None:
    def load(root: Path) -> Bbbc021Dataset:
        return Bbbc021Dataset(Bbbc021Config(root=str(root), cache_dir=str(tmp_path / "cache")))

    def edit(name: str, column: str, row: int, value) -> Path:
        root = _table(tmp_path / name, {"DMSO": 4, "taxol@1": 4})
        table = pd.read_csv(root / "manifest.csv", dtype=str)
        table.loc[row, column] = value
        table.to_csv(root / "manifest.csv", index=False)
        return root

    # float crops beside uint16 ones: a silent cast would turn NaN into 0 and -5 into 65531
    mixed = _table(tmp_path / "mixed", {"DMSO": 4, "taxol@1": 4})
    np.savez(mixed / "taxol1.npz", crops=np.full((4, 12, 12, 3), 0.5, np.float32))
    with pytest.raises(DataError, match=r"taxol1.npz holds float32 crops but .*DMSO.npz holds uint16"):
        load(mixed)

    nan = _table(tmp_path / "nan", {"DMSO": 4, "taxol@1": 4})
    for name in ("DMSO.npz", "taxol1.npz"):
        crops = np.zeros((4, 12, 12, 3), np.float32)
        if name == "taxol1.npz":
            crops[2, 3, 3, 1] = np.inf
        np.savez(nan / name, crops=crops)
    with pytest.raises(DataError, match=r"taxol1.npz row 2 \(manifest line 8\) holds NaN or infinite values"):
        load(nan)

    with pytest.raises(DataError, match=r"line 3 points at row -1 of .*DMSO.npz, which has rows 0 to 3"):
        load(edit("negative", "row_in_file", 1, "-1"))
    with pytest.raises(DataError, match=r"line 7: concentration 'ten' is not a number"):
        load(edit("words", "concentration", 5, "ten"))
    with pytest.raises(DataError, match=r"line 4: row_in_file 'x' is not a number"):
        load(edit("row", "row_in_file", 2, "x"))

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.manifest.csv is not a readable CSV"):
        load(empty)
    ok = _table(tmp_path / "ok", {"DMSO": 4, "taxol@1": 4})
    with pytest.raises(DataError, match=r"manifest.csv is a CSV file; for a crop table pass the folder"):
        load(ok / "manifest.csv")
    assert not [p for p in (tmp_path / "cache").glob("*") if "tmp" in p.name]
