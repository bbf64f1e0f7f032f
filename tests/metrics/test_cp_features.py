"""CellProfiler features (cp-measure + scikit-image segmentation) of drawn discs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.metric import Evaluation
from phenbench.metrics.cp_features import FeatureExtractor, extract, measure_objects


def disc_image(radius: float, levels: tuple[float, ...], size: int = 48, centre=None) -> torch.Tensor:
    """One image, C x H x W in [-1, 1]: a disc whose [0, 1] intensity is `levels[c]` on black."""
    yy, xx = np.mgrid[:size, :size]
    cy, cx = centre or (size / 2 - 0.5, size / 2 - 0.5)
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    unit = np.stack([np.where(inside, level, 0.0) for level in levels])
    return torch.from_numpy(unit * 2 - 1).float(), int(inside.sum())


def test_cp_measure_features_of_a_disc_of_known_radius_and_intensity():
    image, pixels = disc_image(9.0, (0.6, 0.3, 0.8))
    unit = ((image.double() + 1) / 2).numpy()
    mask = (unit[0] > 0).astype(np.int32)
    row = measure_objects(unit, mask, mask, ("DAPI", "actin", "tubulin"))
    assert row["Nuclei_AreaShape_Area"] == pixels
    assert row["Nuclei_AreaShape_EquivalentDiameter"] == pytest.approx(2 * np.sqrt(pixels / np.pi), rel=1e-6)
    assert row["Nuclei_AreaShape_EquivalentDiameter"] == pytest.approx(18.0, rel=0.03)
    assert row["Nuclei_AreaShape_Eccentricity"] == pytest.approx(0.0, abs=0.05)
    assert row["Nuclei_Intensity_MeanIntensity_DAPI"] == pytest.approx(0.6, abs=1e-6)
    assert row["Cells_Intensity_MeanIntensity_tubulin"] == pytest.approx(0.8, abs=1e-6)
    assert row["Cells_Intensity_IntegratedIntensity_actin"] == pytest.approx(0.3 * pixels, rel=1e-6)
    assert row["Cells_Intensity_StdIntensity_actin"] == pytest.approx(0.0, abs=1e-6)


def test_segmentation_finds_the_disc():
    image, pixels = disc_image(9.0, (0.6, 0.3, 0.8))
    table = extract(image[None], ("DAPI", "actin", "tubulin"))
    row = dict(zip(table.names, table.values[0]))
    # smoothing before Otsu moves the border by at most a pixel: within 5% of the area
    assert row["Nuclei_AreaShape_Area"] == pytest.approx(pixels, rel=0.05)
    assert row["Cells_AreaShape_Area"] == pytest.approx(pixels, rel=0.05)
    assert row["Nuclei_Intensity_MaxIntensity_DAPI"] == pytest.approx(0.6, abs=1e-6)


def test_cell_grows_beyond_the_nucleus_from_the_other_channels():
    nucleus, nucleus_pixels = disc_image(6.0, (0.9, 0.0, 0.0))
    cytoplasm, cell_pixels = disc_image(14.0, (0.0, 0.5, 0.5))
    image = torch.maximum(nucleus, cytoplasm)
    table = extract(image[None], ("a", "b", "c"))
    row = dict(zip(table.names, table.values[0]))
    assert row["Nuclei_AreaShape_Area"] == pytest.approx(nucleus_pixels, rel=0.1)
    assert row["Cells_AreaShape_Area"] == pytest.approx(cell_pixels, rel=0.05)


def test_flat_image_gives_a_nan_row_not_an_error():
    table = extract(torch.stack([disc_image(8.0, (0.5, 0.5, 0.5))[0], -torch.ones(3, 48, 48)]), ("a", "b", "c"))
    assert table.valid_rows().tolist() == [True, False]


def test_features_are_memoised_per_evaluation_and_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    images = torch.stack([disc_image(r, (0.5, 0.4, 0.3))[0] for r in (6.0, 8.0)])
    evaluation = Evaluation(conditions=ConditionSet(["DMSO"]), channels=("a", "b", "c"), bundles={}, dataset_hash="h")
    extractor = FeatureExtractor(evaluation)
    first = extractor.features(images, real_condition="DMSO")
    assert FeatureExtractor(evaluation).features(images.clone(), real_condition="DMSO") is first  # memo hit
    assert len(list((tmp_path / "features").glob("h__test__DMSO__cellprofiler*.npz"))) == 1
    fresh = Evaluation(conditions=ConditionSet(["DMSO"]), channels=("a", "b", "c"), bundles={}, dataset_hash="h")
    again = FeatureExtractor(fresh).features(images, real_condition="DMSO")
    np.testing.assert_array_equal(again.values, first.values)
    assert again.names == first.names


def test_parallel_workers_give_the_same_features():
    images = torch.stack([disc_image(r, (0.5, 0.4, 0.3), size=32)[0] for r in (5.0, 6.0, 7.0, 8.0)])
    one = extract(images, ("a", "b", "c"))
    two = extract(images, ("a", "b", "c"), workers=2)
    assert one.names == two.names
    np.testing.assert_array_equal(one.values, two.values)
