"""The crop cache: atomic writes, row reads, stored statistics, normalisation and its inverse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.h5cache import CacheReader, CacheWriter
from phenbench.datasets.normalize import intensity_scale
from phenbench.datasets.splits import assign_splits


def _meta(n: int, plate: str, condition: str) -> pd.DataFrame:
    return pd.DataFrame({"condition": [condition] * n, "plate": [plate] * n, "split": ["train"] * n})


def _write(path: Path, parts: list[tuple[np.ndarray, pd.DataFrame]]) -> Path:
    with CacheWriter(path, channels=("a", "b"), crop_shape=(6, 6)) as writer:
        for images, meta in parts:
            writer.append(images, meta)
        writer.close()
    return path


def test_rows_come_back_in_the_order_asked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60000, (30, 2, 6, 6), dtype=np.uint16)
    cache = _write(tmp_path / "c.h5", [(images[:10], _meta(10, "P1", "DMSO")), (images[10:], _meta(20, "P2", "x@1"))])
    reader = CacheReader(cache)
    assert len(reader) == 30 and reader.channels == ("a", "b")
    for rows in ([3], [5, 6, 7], [29, 0, 13, 0], np.arange(30)[::-1]):
        np.testing.assert_array_equal(reader.read(rows), images[np.asarray(rows)])
    with pytest.raises(DataError, match="out of range"):
        reader.read([30])


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    images = np.zeros((2, 2, 6, 6), np.uint16)
    with pytest.raises(RuntimeError):
        with CacheWriter(tmp_path / "c.h5", channels=("a", "b"), crop_shape=(6, 6)) as writer:
            writer.append(images, _meta(2, "P", "DMSO"))
            raise RuntimeError("interrupted")
    with pytest.raises(DataError, match="do not fit"):
        with CacheWriter(tmp_path / "c.h5", channels=("a", "b"), crop_shape=(6, 6)) as writer:
            writer.append(np.zeros((2, 2, 5, 5), np.uint16), _meta(2, "P", "DMSO"))
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "not-a-cache.h5").write_bytes(b"junk")
    with pytest.raises(DataError, match="not-a-cache.h5 is not a readable phenbench crop cache"):
        CacheReader(tmp_path / "not-a-cache.h5")
    (tmp_path / "not-a-cache.h5").unlink()
    for shape in ((0, 0), (-5, -5)):  # refused before the temporary file exists: nothing left behind
        with pytest.raises(DataError, match="crop size"):
            CacheWriter(tmp_path / "c.h5", channels=("a",), crop_shape=shape)
    assert list(tmp_path.iterdir()) == []


def test_percentile_normalisation_per_plate_and_against_dmso(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    dim = rng.uniform(100, 1100, (20, 2, 6, 6)).astype(np.uint16)  # plate P1, DMSO
    bright = (rng.uniform(100, 1100, (20, 2, 6, 6)) * 3).astype(np.uint16)  # plate P1, treated
    other = rng.uniform(1000, 5000, (20, 2, 6, 6)).astype(np.uint16)  # plate P2, DMSO
    cache = _write(tmp_path / "c.h5", [(dim, _meta(20, "P1", "DMSO")), (bright, _meta(20, "P1", "x@1")),
                                       (other, _meta(20, "P2", "DMSO"))])
    reader = CacheReader(cache)
    dmso = intensity_scale(reader, "dmso", 1.0, 99.0)
    # Independent reference: numpy's percentiles of the DMSO pixels of each plate.
    np.testing.assert_allclose(dmso.low[0], np.percentile(dim.transpose(1, 0, 2, 3).reshape(2, -1), 1, axis=1), rtol=0.02)
    np.testing.assert_allclose(dmso.high[1], np.percentile(other.transpose(1, 0, 2, 3).reshape(2, -1), 99, axis=1), rtol=0.02)
    plates = ["P1"] * 20
    treated = dmso.normalize(bright, plates)
    assert treated.dtype == torch.float32 and treated.min() >= -1 and treated.max() <= 1
    assert float(treated.mean()) > float(dmso.normalize(dim, plates).mean()) + 0.5  # the drug stays brighter
    per_plate = intensity_scale(reader, "plate", 1.0, 99.0)
    assert (per_plate.high[0] > dmso.high[0]).all()  # P1's treated cells raise its plate-wide range
    inside = dmso.normalize(dim, plates)
    back = dmso.denormalize(inside, plates)
    keep = inside.abs().numpy() < 0.999
    np.testing.assert_allclose(back[keep], dim.astype(np.float32)[keep], rtol=1e-5, atol=0.05)
    fixed = intensity_scale(reader, "fixed", 0.1, 99.9)
    torch.testing.assert_close(fixed.normalize(np.full((1, 2, 6, 6), 65535, np.uint16), ["P9"]), torch.ones(1, 2, 6, 6))
    with pytest.raises(ConfigError, match="Unknown normalization"):
        intensity_scale(reader, "zscore", 1, 99)
    with pytest.raises(ConfigError, match="low < high"):
        intensity_scale(reader, "plate", 99, 1)


def test_dmso_normalisation_needs_each_plates_dmso(tmp_path: Path) -> None:
    images = np.ones((4, 2, 6, 6), np.uint16)
    cache = _write(tmp_path / "c.h5", [(images, _meta(4, "P1", "DMSO")), (images, _meta(4, "P2", "x@1"))])
    with pytest.raises(DataError, match="P2 have no DMSO crops"):
        intensity_scale(CacheReader(cache), "dmso", 1, 99)


def test_splits_keep_groups_whole_and_are_deterministic() -> None:
    meta = pd.DataFrame({
        "condition": ["DMSO"] * 40 + ["x@1"] * 20,
        "plate": ["P1"] * 20 + ["P2"] * 20 + ["P1"] * 20,
        "well": [f"W{i // 5}" for i in range(40)] + ["X1"] * 10 + ["X2"] * 10,
        "field": [str(i // 2) for i in range(60)],
    })
    first = assign_splits(meta, by="well", test_fraction=0.25, seed=3)
    assert (first.split == assign_splits(meta, by="well", test_fraction=0.25, seed=3).split).all()
    for _, group in meta.assign(split=first.split).groupby(["plate", "well"]):
        assert group["split"].nunique() == 1
    assert first.levels == {"DMSO": "well", "x@1": "well"}
    by_plate = assign_splits(meta, by="plate", test_fraction=0.5, seed=0)
    assert by_plate.levels["DMSO"] == "plate" and by_plate.levels["x@1"] == "well"  # x@1 is on one plate
    one_well = meta.assign(well="W", plate="P")
    assert assign_splits(one_well, by="well").levels["DMSO"] == "field"
    with pytest.raises(DataError, match="single well"):
        assign_splits(one_well, by="well", fallback=False)
    with pytest.raises(ConfigError, match="Unknown split level"):
        assign_splits(meta, by="site")
