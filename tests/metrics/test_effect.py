"""`effect`: identity has zero effect; real target cells as translations have the real effect."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from phenbench.core.dataset import DataSpec
from phenbench.core.conditions import ConditionSet
from phenbench.metrics.effect import Effect
from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
from tests.metrics.helpers import make_evaluation
from tests.metrics.test_cellprofiler import _dose_images


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))


def _data():
    dmso = _dose_images((0.45, 0.1, 0.3), n=6, seed=1)
    drug = _dose_images((0.7, 0.6, 0.2), n=6, seed=2)
    return dmso, drug


def _results(evaluation):
    return {r.name: r for r in Effect(bootstrap=20).compute(evaluation)}


def test_identity_translator_has_zero_effect():
    dmso, drug = _data()
    spec = DataSpec(channels=("ch0", "ch1", "ch2"), image_size=32, conditions=ConditionSet(["DMSO", "drug@1"]))
    translated = IdentityTranslator(IdentityConfig(), spec).translate(dmso, "DMSO", "drug@1").images
    results = _results(make_evaluation({"DMSO": dmso, "drug@1": drug}, {"drug@1": translated}))
    assert results["effect/magnitude-ratio"].per_condition["drug@1"].value == 0.0
    cosine = results["effect/cosine"].per_condition["drug@1"]
    assert cosine.value is None and "do not move" in cosine.missing
    assert "counterfactual" in results["effect/counterfactual-error"].per_condition["drug@1"].missing


def test_real_target_cells_as_translations_have_the_real_effect():
    dmso, drug = _data()
    results = _results(make_evaluation({"DMSO": dmso, "drug@1": drug}, {"drug@1": drug}))
    assert results["effect/cosine"].per_condition["drug@1"].value == pytest.approx(1.0)
    assert results["effect/magnitude-ratio"].per_condition["drug@1"].value == pytest.approx(1.0)
    assert results["effect/magnitude-ratio"].ideal == 1.0 and results["effect/cosine"].ideal is None
    floor = results["effect/cosine"].floor["drug@1"].value
    assert 0.5 < floor <= 1.0  # two halves of real drug cells agree on the direction


def test_counterfactual_error_is_zero_for_the_truth_and_one_for_identity():
    dmso, drug = _data()
    for translated, expected in ((drug, 0.0), (dmso, 1.0)):
        evaluation = make_evaluation({"DMSO": dmso, "drug@1": drug}, {"drug@1": translated})
        evaluation.bundles["drug@1"] = dataclasses.replace(evaluation.bundles["drug@1"], counterfactuals=drug)
        error = _results(evaluation)["effect/counterfactual-error"].per_condition["drug@1"]
        assert error.value == pytest.approx(expected, abs=1e-9)


def test_sources_of_several_conditions_are_scored_per_source_and_pooled():
    dmso, drug = _data()
    other = _dose_images((0.6, 0.35, 0.25), n=6, seed=7)  # a third condition as a second source
    sources = torch.cat([dmso, other])
    evaluation = make_evaluation({"DMSO": dmso, "drug@1": drug, "other@1": other}, {"drug@1": sources},
                                 sources={"drug@1": sources})
    bundle = evaluation.bundles["drug@1"]
    evaluation.bundles["drug@1"] = dataclasses.replace(bundle, source_conditions=["DMSO"] * 6 + ["other@1"] * 6)
    ratio = _results(evaluation)["effect/magnitude-ratio"].per_condition["drug@1"]
    assert ratio.value == 0.0 and ratio.n == 12  # identity from both sources: no effect, all cells counted


def test_magnitude_error_is_the_distance_of_the_ratio_from_one() -> None:
    import numpy as np

    from phenbench.metrics.effect import magnitude_error, magnitude_ratio

    sources = np.zeros((4, 3))
    real = np.ones((4, 3))
    for factor, expected in [(0.0, 1.0), (1.0, 0.0), (5.0, 4.0), (0.5, 0.5)]:
        translated = factor * np.ones((4, 3))
        assert magnitude_ratio(translated, sources, real) == pytest.approx(factor)
        assert magnitude_error(translated, sources, real) == pytest.approx(expected)
