"""Held-out compounds: a translator with one learned class per condition refuses an unseen one
clearly; a run scores seen and held-out targets apart, and on the same rows for every method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.dataset import DataSpec
from phenbench.core.evaluation_builder import build_evaluation
from phenbench.core.held_out import HELD_OUT_POOLED, EvaluationParts
from phenbench.core.metric import Need
from phenbench.core.translator import UnseenConditionError
from phenbench.datasets.in_memory import InMemoryDataset
from phenbench.metrics.fidelity import FID
from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.metrics.helpers import blobs, register_tiny_extractor
from tests.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)
from tests.translators.phendiff.test_contract import tiny_config

NAMES = ["DMSO", "seen@1", "unseen@1"]
SPEC = DataSpec(channels=("a", "b", "c"), image_size=8, conditions=ConditionSet(NAMES), unseen=("unseen@1",))


def _dataset() -> InMemoryDataset:
    test = torch.cat([blobs(8, size=8, brightness=b, seed=i) for i, b in enumerate((0.0, 0.3, -0.3))])
    train = torch.cat([blobs(8, size=8, brightness=b, seed=10 + i) for i, b in enumerate((0.0, 0.3))])
    return InMemoryDataset(SPEC, {"train": train, "test": test}, {"train": [0] * 8 + [1] * 8,
                                                                   "test": [0] * 8 + [1] * 8 + [2] * 8})


def test_a_class_conditional_translator_refuses_an_unseen_condition_in_one_line():
    translator = PhenDiffTranslator(tiny_config(steps=1), SPEC)
    images = blobs(2, size=8)
    with pytest.raises(UnseenConditionError, match=r"^phendiff learns one embedding per condition it trains on and "
                                                   r"cannot condition on unseen@1, held out of its training"):
        translator.translate(images, "DMSO", "unseen@1")
    with pytest.raises(UnseenConditionError):
        translator.invert(images, "unseen@1")
    assert translator.translate(images, "DMSO", "seen@1").images.shape == images.shape
    assert torch.equal(IdentityTranslator(IdentityConfig(), SPEC).translate(images, "DMSO", "unseen@1").images, images)
    assert DataSpec.from_dict(SPEC.to_dict()) == SPEC
    old = {k: v for k, v in SPEC.to_dict().items() if k != "unseen"}  # a model saved before held-out splits
    assert DataSpec.from_dict(old).unseen == ()


def _score(translator, tiny):
    evaluation, _ = build_evaluation(translator, _dataset(), [(0, 1), (0, 2)], {Need.REAL, Need.TRANSLATED},
                                     batch_size=8, limit=None, seed=0, progress=False)
    metric = FID(feature_extractor=tiny, bootstrap=0)
    [result] = EvaluationParts.of(evaluation).score(metric.compute)
    return evaluation, result, metric


def test_seen_and_held_out_targets_are_pooled_apart_on_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    tiny = register_tiny_extractor()
    evaluation, identity, metric = _score(IdentityTranslator(IdentityConfig(), SPEC), tiny)
    # pooled: the seen targets only; "pooled (held out)": the held-out ones (here one target).
    [seen_only] = metric.compute(EvaluationParts.of(evaluation).seen)
    assert identity.pooled.value == pytest.approx(seen_only.pooled.value)
    assert identity.per_condition[HELD_OUT_POOLED].value == pytest.approx(identity.per_condition["unseen@1"].value)
    assert identity.floor[HELD_OUT_POOLED].value == pytest.approx(identity.floor["unseen@1"].value)
    phendiff_evaluation, phendiff, _ = _score(PhenDiffTranslator(tiny_config(steps=1), SPEC), tiny)
    assert set(phendiff_evaluation.bundles) == {"seen@1"}
    assert "cannot condition on unseen@1" in phendiff.per_condition["unseen@1"].missing
    assert "cannot condition on unseen@1" in phendiff.per_condition[HELD_OUT_POOLED].missing
    assert phendiff.pooled.value is not None and np.isfinite(phendiff.pooled.value)
    assert phendiff_evaluation.rows_digest == evaluation.rows_digest  # one column for both methods
