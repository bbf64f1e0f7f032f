"""`moa-accuracy` on drawn cells of three mechanisms (DMSO, two compounds sharing one MoA, a third
with another): its value, ceiling and floor, misses, and conditions without a MoA."""

from __future__ import annotations

import pytest
import torch

from phenbench.metrics.moa_accuracy import MoaAccuracy
from tests.metrics.helpers import make_evaluation
from tests.metrics.test_cellprofiler import _dose_images

LEVELS = {"DMSO": (0.45, 0.1, 0.3), "stab-a@1": (0.8, 0.6, 0.2), "stab-b@1": (0.8, 0.6, 0.2), "actin@1": (0.3, 0.3, 0.8)}
MOA = {"DMSO": "DMSO", "stab-a@1": "Microtubule stabilizers", "stab-b@1": "Microtubule stabilizers",
       "actin@1": "Actin disruptors"}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))


def _evaluation(translated: dict[str, torch.Tensor], moa=MOA):
    train = {c: _dose_images(levels, n=10, seed=i) for i, (c, levels) in enumerate(LEVELS.items())}
    test = {c: _dose_images(levels, n=6, seed=10 + i) for i, (c, levels) in enumerate(LEVELS.items())}
    evaluation = make_evaluation(test, translated, real_train=train, conditions=list(LEVELS))
    evaluation.moa = dict(moa)
    return evaluation, test


def _measures(results):
    return {r.name: r for r in results}


def test_value_ceiling_and_floor_for_a_perfect_and_an_identity_translator():
    evaluation, test = _evaluation({t: _dose_images(LEVELS[t], n=6, seed=30 + i)
                                    for i, t in enumerate(("stab-a@1", "actin@1"))})
    perfect = _measures(MoaAccuracy(bootstrap=0).compute(evaluation))
    assert set(perfect) == {"moa-accuracy", "moa-accuracy/ceiling", "moa-accuracy/floor"}
    assert perfect["moa-accuracy"].per_condition["stab-a@1"].value == 1.0
    assert perfect["moa-accuracy"].pooled.value == 1.0 and perfect["moa-accuracy"].pooled.n == 12
    ceiling = perfect["moa-accuracy/ceiling"]
    assert ceiling.per_condition["actin@1"].value == 1.0 and ceiling.per_condition["actin@1"].n == 6
    assert perfect["moa-accuracy"].floor["actin@1"].value == 1.0  # the reference row is the ceiling
    # The floor: the untranslated DMSO sources, classified as DMSO, never as the target's MoA.
    assert perfect["moa-accuracy/floor"].per_condition["stab-a@1"].value == 0.0
    identity, _ = _evaluation({t: test["DMSO"] for t in ("stab-a@1", "actin@1")})
    identity = _measures(MoaAccuracy(bootstrap=0).compute(identity))
    assert identity["moa-accuracy"].pooled.value == 0.0
    assert identity["moa-accuracy"].pooled.value == identity["moa-accuracy/floor"].pooled.value


def test_the_classifier_learns_mechanisms_not_compounds():
    # stab-b's training cells teach "Microtubule stabilizers": cells like them translated to
    # stab-a are right, even though stab-a's own training cells are left out (a held-out compound).
    evaluation, _ = _evaluation({"stab-a@1": _dose_images(LEVELS["stab-b@1"], n=6, seed=40)})
    del evaluation.real_train["stab-a@1"]
    result = _measures(MoaAccuracy(bootstrap=0).compute(evaluation))
    assert result["moa-accuracy"].per_condition["stab-a@1"].value == 1.0
    assert list(result["moa-accuracy"].arrays["classes"]) == ["Actin disruptors", "DMSO", "Microtubule stabilizers"]


def test_images_without_a_cell_are_misses_and_unannotated_targets_are_not_pooled():
    blank = _dose_images(LEVELS["stab-a@1"], n=3, seed=6)
    blank[:, 2] = -1.0  # a blanked channel: no plausible cell
    translated = {"stab-a@1": torch.cat([_dose_images(LEVELS["stab-a@1"], n=3, seed=5), blank]),
                  "actin@1": _dose_images(LEVELS["actin@1"], n=6, seed=7)}
    evaluation, _ = _evaluation(translated, moa={k: v for k, v in MOA.items() if k != "actin@1"})
    result = _measures(MoaAccuracy(bootstrap=0).compute(evaluation))["moa-accuracy"]
    assert result.per_condition["stab-a@1"].value == 0.5 and result.per_condition["stab-a@1"].n == 6
    assert "no mechanism of action is annotated for actin@1" in result.per_condition["actin@1"].missing
    assert result.pooled.value == 0.5 and result.pooled.n == 6  # over the annotated target only
    assert list(result.arrays["unannotated"]) == ["actin@1"]


def test_without_annotations_every_value_is_missing_with_the_reason():
    evaluation, _ = _evaluation({"actin@1": _dose_images(LEVELS["actin@1"], n=2)}, moa={})
    for result in MoaAccuracy(bootstrap=0).compute(evaluation):
        assert "annotates no mechanism of action" in result.pooled.missing
