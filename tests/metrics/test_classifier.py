"""`classifier` on drawn cells of two phenotypes, and without training images."""

from __future__ import annotations

import pytest
import torch

from phenbench.metrics.classifier import ConditionClassifier
from tests.metrics.helpers import make_evaluation
from tests.metrics.test_cellprofiler import _dose_images

DMSO, DRUG = (0.45, 0.1, 0.3), (0.8, 0.6, 0.2)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))


def test_shares_for_a_perfect_and_an_identity_translator():
    train = {"DMSO": _dose_images(DMSO, n=12, seed=1), "drug@1": _dose_images(DRUG, n=12, seed=2)}
    test = {"DMSO": _dose_images(DMSO, n=6, seed=3), "drug@1": _dose_images(DRUG, n=6, seed=4)}
    perfect_cells = _dose_images(DRUG, n=6, seed=5)
    evaluation = make_evaluation(test, {"drug@1": perfect_cells}, real_train=train)
    results = {r.name: r for r in ConditionClassifier(bootstrap=20, floor_folds=3).compute(evaluation)}
    assert results["classifier/target-share"].per_condition["drug@1"].value == 1.0
    assert results["classifier/real-share"].per_condition["drug@1"].value == 1.0
    assert results["classifier/source-share"].per_condition["drug@1"].value == 0.0  # identity's share
    floor = results["classifier/target-share"].floor["drug@1"]
    assert floor.n == 12 and 0.0 <= floor.value <= 0.85  # halves of one condition: no real separation
    assert results["classifier/target-share"].higher_is_better


def test_without_training_images_every_share_is_missing_with_the_reason():
    images = {"DMSO": _dose_images(DMSO, n=2), "drug@1": _dose_images(DRUG, n=2)}
    results = ConditionClassifier().compute(make_evaluation(images, {"drug@1": torch.clone(images["drug@1"])}))
    for result in results:
        assert "real training images" in result.per_condition["drug@1"].missing
