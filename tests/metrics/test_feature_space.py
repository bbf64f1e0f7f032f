"""The shared CellProfiler space: per-feature handling of undefined values, failures kept, one
subsample per bundle. Feature tables are written by hand into the extractor's memo, so every
expected number is computed here from the table with numpy."""

from __future__ import annotations

import numpy as np
import pytest

from phenbench.metrics.feature_space import MAX_UNDEFINED_SHARE, CellFeatureSpace, FeatureOptions
from tests.metrics.helpers import inject_features, make_evaluation, random_images


def _space(real_values, translated_values, translated_failures=None, max_images=None):
    real, dmso, translated = random_images(len(real_values), 1), random_images(len(real_values), 2), random_images(len(translated_values), 3)
    evaluation = make_evaluation({"DMSO": dmso, "drug@1": real}, {"drug@1": translated},
                                 sources={"drug@1": dmso[: len(translated)]})
    inject_features(evaluation, real, real_values)
    inject_features(evaluation, dmso[: len(translated)], real_values[: len(translated)])
    inject_features(evaluation, translated, translated_values, translated_failures)
    return CellFeatureSpace(evaluation, FeatureOptions(max_images=max_images, cache=False))


def test_a_cell_with_one_undefined_feature_is_kept_with_the_real_median():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(20, 3))
    translated = rng.normal(size=(6, 3))
    translated[2, 1] = np.nan  # e.g. a correlation over a flat patch
    space = _space(real, translated)
    cells = space.translated("drug@1")
    assert len(cells) == 6 and cells.total == 6  # was 5: the cell was silently dropped
    reference = np.concatenate([real, real[:6]])  # the real images: target and sources
    expected = (np.median(reference[:, 1]) - reference[:, 1].mean()) / reference[:, 1].std()
    assert cells.x[2, 1] == pytest.approx(expected)
    np.testing.assert_allclose(cells.x[0], (translated[0] - reference.mean(0)) / reference.std(0))


def test_a_feature_undefined_in_more_than_a_few_percent_of_real_cells_is_dropped():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 3))
    undefined = int(np.ceil(MAX_UNDEFINED_SHARE * 46)) + 1  # of 40 real + 6 source cells
    real[:undefined, 0] = np.nan
    real[0, 2] = np.nan  # one undefined entry of another feature: imputed, kept
    space = _space(real, rng.normal(size=(6, 3)))
    assert space.names == ("f1", "f2")
    assert space.translated("drug@1").x.shape == (6, 2)


def test_images_without_a_cell_are_counted_not_hidden():
    rng = np.random.default_rng(2)
    translated = rng.normal(size=(6, 3))
    translated[[1, 4]] = np.nan
    cells = _space(rng.normal(size=(20, 3)), translated, translated_failures=[0, 5, 0, 0, 5, 0]).translated("drug@1")
    assert (cells.total, len(cells), cells.failed) == (6, 4, 2)
    assert cells.measured.tolist() == [True, False, True, True, False, True]


def test_translations_and_their_sources_share_one_subsample_in_every_bundle():
    dmso = random_images(30, 2)
    evaluation = make_evaluation(
        {"DMSO": dmso, "drug@1": random_images(30, 1), "drug@3": random_images(30, 4)},
        {"drug@1": random_images(30, 3), "drug@3": random_images(30, 5)}, sources={"drug@1": dmso, "drug@3": dmso})
    space = CellFeatureSpace(evaluation, FeatureOptions(max_images=10, cache=False))
    rows = space.bundle_rows("drug@1")
    assert len(rows) == 10 and np.array_equal(rows, space.bundle_rows("drug@3"))
