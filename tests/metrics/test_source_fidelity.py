"""`source-fidelity` and `segmentation-failures` on hand-chosen features (injected into the
extractor's memo) and on drawn cells: hand-computed retrievals, chance level, failures as misses."""

from __future__ import annotations

import numpy as np
import pytest

from phenbench.metrics.segmentation_failures import SegmentationFailures
from phenbench.metrics.source_fidelity import SourceFidelity, retrieval_hits
from tests.metrics.helpers import inject_features, make_evaluation, random_images


def _evaluation(source_values, translated_values, translated_failures=None, real_values=None):
    n = len(source_values)
    sources, translated = random_images(n, 1), random_images(n, 2)
    real = random_images(len(real_values) if real_values is not None else n, 3)
    evaluation = make_evaluation({"DMSO": sources, "drug@1": real}, {"drug@1": translated}, sources={"drug@1": sources})
    inject_features(evaluation, sources, source_values)
    inject_features(evaluation, translated, translated_values, translated_failures)
    inject_features(evaluation, real, source_values if real_values is None else real_values)
    return evaluation


def test_retrieval_of_a_hand_computed_case():
    # Sources at 0, 10, 20 on a line; translations at 1, 11, 14: the third is nearer to source 10.
    sources = np.array([[0.0], [10.0], [20.0]])
    translated = np.array([[1.0], [11.0], [14.0]])
    assert retrieval_hits(translated, sources, k=3, seed=0).tolist() == [1.0, 1.0, 0.0]
    tied = np.array([[5.0], [11.0], [20.0]])  # 5 is as far from 0 as from 10: a tie of two
    assert retrieval_hits(tied, sources, k=3, seed=0).tolist() == [0.5, 1.0, 1.0]


def test_the_identity_retrieves_every_source_and_the_floor_is_chance():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, 4))
    [result] = SourceFidelity(cache=False).compute(_evaluation(values, values))
    assert result.per_condition["drug@1"].value == 1.0
    assert result.floor["drug@1"].value == pytest.approx(0.1)  # K = 10
    assert result.pooled.value == 1.0 and result.higher_is_better


def test_cells_unrelated_to_their_sources_score_chance():
    rng = np.random.default_rng(1)
    sources, unrelated = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    [result] = SourceFidelity(cache=False, max_images=None).compute(_evaluation(sources, unrelated))
    value = result.per_condition["drug@1"]
    assert value.ci_low <= 0.1 <= value.ci_high and value.value < 0.2


def test_a_translation_without_a_cell_is_a_miss():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(10, 4))
    failed = values.copy()
    failed[[3, 7]] = np.nan
    [result] = SourceFidelity(cache=False).compute(_evaluation(values, failed, translated_failures=[0, 0, 0, 5, 0, 0, 0, 5, 0, 0]))
    assert result.per_condition["drug@1"].value == pytest.approx(0.8)  # 8 of 10, not 8 of 8


def test_segmentation_failures_share_floor_and_reasons():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(10, 4))
    failures = [0, 5, 5, 1, 0, 0, 0, 0, 0, 5]
    translated = np.where(np.array(failures)[:, None] > 0, np.nan, values)
    [result] = SegmentationFailures(cache=False).compute(_evaluation(values, translated, translated_failures=failures))
    value = result.per_condition["drug@1"]
    assert value.value == pytest.approx(0.4) and value.n == 10 and not result.higher_is_better
    assert value.ci_low < 0.4 < value.ci_high
    assert result.floor["drug@1"].value == 0.0  # the real images all hold a cell
    reasons = dict(zip(result.arrays["reason_names"], result.arrays["reasons/drug@1"]))
    assert reasons["a channel is blank inside the cell"] == 3 and reasons["no nucleus found"] == 1
