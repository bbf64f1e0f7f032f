"""normalization.json: round trips, errors, what a file-backed dataset stores, the estimate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phenbench.imaging.normalization import (
    Normalization,
    dtype_range,
    estimate_normalization,
    load_normalization,
    normalization_from_dataset,
    save_dataset_normalization,
    spread_sample,
)
from phenbench.core.errors import DataError


def test_normalize_then_denormalize_returns_unclipped_values() -> None:
    scale = Normalization(("a", "b"), (10.0, 0.0), (110.0, 4.0))
    raw = np.array([[[10.0, 60.0, 110.0]], [[0.0, 2.0, 4.0]]], dtype=np.float32)
    normalized = scale.normalize(raw)
    np.testing.assert_allclose(normalized, [[[-1, 0, 1]], [[-1, 0, 1]]])
    np.testing.assert_allclose(scale.denormalize(normalized), raw, atol=1e-5)
    assert scale.normalize(np.array([[[500.0]], [[-3.0]]]))[:, 0, 0].tolist() == [1.0, -1.0]  # clipped


def test_file_round_trip_and_clear_errors(tmp_path: Path) -> None:
    scale = Normalization(("DNA",), (5.0,), (900.0,), resize="pad", origin="x")
    assert load_normalization(scale.save(tmp_path)) == scale
    with pytest.raises(DataError, match="does not exist"):
        load_normalization(tmp_path / "nope.json")
    (tmp_path / "other.json").write_text(json.dumps({"low": [0]}))
    with pytest.raises(DataError, match="not a phenbench normalisation file"):
        load_normalization(tmp_path / "other.json")
    with pytest.raises(DataError, match="high > low"):
        Normalization(("DNA",), (5.0,), (5.0,))
    with pytest.raises(DataError, match="is for channels DNA but the model has DNA, actin"):
        scale.check_channels(("DNA", "actin"), "x.json")


def test_estimate_is_the_percentiles_of_all_pixels_per_channel() -> None:
    rng = np.random.default_rng(0)
    images = [rng.normal(1000 * (c + 1), 50, size=(2, 8, 8)) for c in range(3)]
    scale = estimate_normalization(images, ("a", "b"))
    pixels = np.concatenate([i.reshape(2, -1) for i in images], axis=1)
    assert scale.low == pytest.approx(tuple(np.percentile(pixels, 0.1, axis=1)))
    assert scale.high == pytest.approx(tuple(np.percentile(pixels, 99.9, axis=1)))
    assert dtype_range(("a",), np.dtype(np.uint16)).high == (65535.0,)
    assert spread_sample(5, 64) == [0, 1, 2, 3, 4] and spread_sample(1000, 3) == [0, 500, 999]


def test_a_folder_dataset_stores_its_scale_beside_the_model(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    from phenbench.datasets.imagefolder import ImageFolderConfig, ImageFolderDataset

    monkeypatch.setenv("PHENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for condition in ("DMSO", "drug@1"):
        folder = tmp_path / "data" / condition
        folder.mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, size=(8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    dataset = ImageFolderDataset(ImageFolderConfig(root=str(tmp_path / "data"), normalization="global"))
    path = save_dataset_normalization(dataset, tmp_path)
    saved = load_normalization(path)
    assert saved.channels == dataset.spec.channels
    np.testing.assert_allclose(saved.low, dataset.scale.low[0], rtol=1e-6)
    np.testing.assert_allclose(saved.high, dataset.scale.high[0], rtol=1e-6)
    assert "global" in saved.origin
    assert saved.dtype == "uint8"  # the training bit depth: translate refuses 16-bit files through this map
    # the saved map reproduces what the dataset feeds the model
    raw = dataset.reader.read(dataset.global_rows("train", [0]))[0]
    np.testing.assert_allclose(saved.normalize(raw), dataset.read("train", [0])[0].numpy(), atol=1e-6)


def test_per_plate_scales_are_saved_as_their_median() -> None:
    from types import SimpleNamespace

    from phenbench.datasets.normalize import IntensityScale

    scale = IntensityScale(("p1", "p2", "p3"), np.array([[1.0], [2.0], [9.0]]), np.array([[10.0], [30.0], [20.0]]))
    options = SimpleNamespace(normalization="plate", low_percentile=0.1, high_percentile=99.9, resize="resize")
    dataset = SimpleNamespace(scale=scale, options=options, name="bbbc021", spec=SimpleNamespace(channels=("DNA",)))
    saved = normalization_from_dataset(dataset)
    assert saved.low == (2.0,) and saved.high == (20.0,) and "median of 3 plates" in saved.origin
    assert normalization_from_dataset(SimpleNamespace(spec=None)) is None  # in-memory data: no raw scale
