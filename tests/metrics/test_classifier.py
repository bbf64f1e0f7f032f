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


def _evaluation(translated):
    train = {"DMSO": _dose_images(DMSO, n=12, seed=1), "drug@1": _dose_images(DRUG, n=12, seed=2)}
    test = {"DMSO": _dose_images(DMSO, n=6, seed=3), "drug@1": _dose_images(DRUG, n=6, seed=4)}
    return make_evaluation(test, {"drug@1": translated}, real_train=train)


def test_shares_for_a_perfect_and_an_identity_translator():
    perfect_cells = _dose_images(DRUG, n=6, seed=5)
    [perfect] = ConditionClassifier().compute(_evaluation(perfect_cells))
    assert perfect.name == "classifier/target-share" and perfect.higher_is_better
    assert perfect.per_condition["drug@1"].value == 1.0
    # The reference row is the real share of held-out real images: the same K-class scale.
    assert perfect.floor["drug@1"].value == 1.0 and perfect.floor["drug@1"].n == 6
    assert perfect.floor["pooled"].value == 1.0
    assert perfect.pooled.value == 1.0 and perfect.pooled.n == 6 and perfect.pooled.ci_low is not None
    evaluation = _evaluation(_dose_images(DMSO, n=6, seed=7))  # untranslated control cells: identity
    [identity] = ConditionClassifier().compute(evaluation)
    assert identity.per_condition["drug@1"].value == 0.0


def test_translations_without_a_cell_count_as_misses():
    # 3 perfect translations and 3 with a blanked channel: 3 hits of 6 images, not 3 of 3.
    blank = _dose_images(DRUG, n=3, seed=6)
    blank[:, 2] = -1.0
    translated = torch.cat([_dose_images(DRUG, n=3, seed=5), blank])
    [share] = ConditionClassifier().compute(_evaluation(translated))
    value = share.per_condition["drug@1"]
    assert value.value == 0.5 and value.n == 6


def test_without_training_images_every_share_is_missing_with_the_reason():
    images = {"DMSO": _dose_images(DMSO, n=2), "drug@1": _dose_images(DRUG, n=2)}
    results = ConditionClassifier().compute(make_evaluation(images, {"drug@1": torch.clone(images["drug@1"])}))
    for result in results:
        assert "real training images" in result.per_condition["drug@1"].missing
