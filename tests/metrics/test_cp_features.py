"""CellProfiler features (cp-measure + scikit-image segmentation) of drawn discs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.metric import Evaluation
from phenbench.metrics.cp_features import FAILURES, FeatureExtractor, extract, measure_objects
from tests.metrics.bbbc021_crops import load_crops, needs_crops


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
    assert table.measured_rows().tolist() == [True, False]
    assert np.isnan(table.values[1]).all() and FAILURES[table.failures[1]] == "no nucleus found"


def _failure(image: torch.Tensor) -> str:
    return FAILURES[extract(image[None], ("a", "b", "c")).failures[0]]


def test_what_is_not_a_plausible_cell_and_why():
    disc, _ = disc_image(8.0, (0.6, 0.5, 0.4))
    assert _failure(disc) == ""
    blank = disc.clone()
    blank[1] = -1.0  # one channel blanked by a broken translator: not a cell any more
    assert _failure(blank) == "a channel is blank inside the cell"
    speck, _ = disc_image(1.5, (0.6, 0.5, 0.4))  # 9 pixels of 2,304: below 1% of the crop
    assert _failure(speck) == "nucleus smaller than 1% of the crop"
    yy, xx = np.mgrid[-24:24, -24:24]
    open_ring = (np.abs(np.hypot(yy, xx) - 12) < 2) & ~((xx > 0) & (np.abs(yy) < 3))  # a "C": nothing to fill
    ring = disc.clone()
    ring[0] = torch.from_numpy(np.where(open_ring, 0.6, 0.0) * 2 - 1).float()
    assert _failure(ring) == "nucleus not compact (solidity < 0.6)"


def test_pure_noise_is_not_measured_as_cells():
    generator = torch.Generator().manual_seed(0)
    noise = (0.3 * torch.randn(40, 3, 48, 48, generator=generator)).clamp(-1, 1)
    table = extract(noise, ("a", "b", "c"))
    assert table.measured_rows().mean() <= 0.05  # was 1.0: every noise image was "a cell"


@needs_crops
def test_real_bbbc021_crops_are_plausible_cells():
    from phenbench.metrics.base import to_unit
    from phenbench.metrics.cp_features import implausibility, segment

    crops = torch.cat(list(load_crops(25, seed=3).values()))
    unit = to_unit(crops).numpy().astype(np.float64)
    codes = [implausibility(image, *masks) if (masks := segment(image)) is not None else 1 for image in unit]
    assert np.mean(np.array(codes) == 0) >= 0.97


def test_features_are_memoised_per_evaluation_and_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    images = torch.stack([disc_image(r, (0.5, 0.4, 0.3))[0] for r in (6.0, 8.0)])
    evaluation = Evaluation(conditions=ConditionSet(["DMSO"]), channels=("a", "b", "c"), bundles={}, dataset_hash="h")
    extractor = FeatureExtractor(evaluation)
    first = extractor.features(images, real_condition="DMSO")
    assert FeatureExtractor(evaluation).features(images.clone(), real_condition="DMSO") is first  # memo hit
    [path] = (tmp_path / "features").glob("h__test__DMSO__cellprofiler*.npz")
    with np.load(path) as stored:
        arrays = dict(stored)
    np.savez(path, **{**arrays, "values": arrays["values"] + 1.0})  # a disk hit must return this
    fresh = Evaluation(conditions=ConditionSet(["DMSO"]), channels=("a", "b", "c"), bundles={}, dataset_hash="h")
    again = FeatureExtractor(fresh).features(images, real_condition="DMSO")
    np.testing.assert_array_equal(again.values, first.values + 1.0)
    assert again.names == first.names and again.failures.tolist() == [0, 0]


def test_parallel_workers_give_the_same_features():
    images = torch.stack([disc_image(r, (0.5, 0.4, 0.3), size=32)[0] for r in (5.0, 6.0, 7.0, 8.0)])
    one = extract(images, ("a", "b", "c"))
    two = extract(images, ("a", "b", "c"), workers=2)
    assert one.names == two.names
    np.testing.assert_array_equal(one.values, two.values)
