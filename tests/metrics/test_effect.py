"""`effect`: unbiased shifts (closed form), identity exactly zero at any N, other real target cells
shifting like the real treatment."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from phenbench.core.dataset import DataSpec
from phenbench.core.conditions import ConditionSet
from phenbench.metrics.effect import Effect, cosine, error_of, magnitude_ratio, mean_dot, ratio_of, shift_terms
from phenbench.metrics.statistics import value_with_ci
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
    return {r.name: r for r in Effect().compute(evaluation)}


@pytest.mark.parametrize("max_images", [None, 4])
def test_identity_translator_has_zero_effect_at_any_n(max_images):
    # max_images 4 < 6 cells: translations and sources used to be subsampled with different
    # seeds, so the identity moved by the difference of two DMSO subsets.
    dmso, drug = _data()
    spec = DataSpec(channels=("ch0", "ch1", "ch2"), image_size=32, conditions=ConditionSet(["DMSO", "drug@1"]))
    translated = IdentityTranslator(IdentityConfig(), spec).translate(dmso, "DMSO", "drug@1").images
    evaluation = make_evaluation({"DMSO": dmso, "drug@1": drug}, {"drug@1": translated})
    results = {r.name: r for r in Effect(max_images=max_images).compute(evaluation)}
    assert results["effect/magnitude-ratio"].per_condition["drug@1"].value == 0.0
    assert results["effect/magnitude-error"].per_condition["drug@1"].value == 1.0
    cosine = results["effect/cosine"].per_condition["drug@1"]
    assert cosine.value is None and "do not move" in cosine.missing
    assert "counterfactual" in results["effect/counterfactual-error"].per_condition["drug@1"].missing


def test_shift_estimates_are_unbiased_where_plain_norms_are_not():
    # sources s ~ N(0, I_K); translations t = s + delta + noise (sd 1), paired; real r ~ N(mu, I_K).
    # Closed form: E|mean(t - s)|^2 = |delta|^2 + K / n; the estimates here must average |delta|^2.
    rng = np.random.default_rng(0)
    k, n, reps = 50, 10, 400
    delta, mu = np.zeros(k), np.full(k, 0.3)
    delta[:5] = 0.5
    estimates, plain = [], []
    for _ in range(reps):
        s = rng.normal(size=(n, k))
        t = s + delta + rng.normal(size=(n, k))
        r = mu + rng.normal(size=(2 * n, k))
        estimates.append(shift_terms(t, s, r, paired=True))
        plain.append(np.sum((t - s).mean(0) ** 2))
    tt, tr, rr = np.mean(estimates, axis=0)
    spread = np.std(estimates, axis=0) / np.sqrt(reps)
    assert tt == pytest.approx(delta @ delta, abs=4 * spread[0])  # 1.25
    assert tr == pytest.approx(delta @ mu, abs=4 * spread[1])  # 0.75
    assert rr == pytest.approx(mu @ mu, abs=4 * spread[2])  # 4.5
    assert np.mean(plain) == pytest.approx(delta @ delta + k / n, rel=0.05)  # the biased norm: 6.25


def test_a_translator_that_only_adds_noise_has_no_magnitude():
    # Noise of sd 1 on 50 features of 10 cells: the plain |mean shift| / |real shift| was ~0.8.
    rng = np.random.default_rng(1)
    k, n = 50, 10
    s = rng.normal(size=(n, k))
    r = np.full(k, 0.3) + rng.normal(size=(2 * n, k))
    ratios = [magnitude_ratio(np.concatenate([s + rng.normal(size=(n, k)), s], axis=1), r) for _ in range(100)]
    assert np.median(ratios) < 0.3


def test_other_target_cells_as_translations_have_the_real_effect():
    # A new draw of drug cells (not the very images the real shift is measured on).
    dmso, drug = _data()
    other_drug = _dose_images((0.7, 0.6, 0.2), n=6, seed=12)
    results = _results(make_evaluation({"DMSO": dmso, "drug@1": drug}, {"drug@1": other_drug}))
    cosine, ratio = results["effect/cosine"].per_condition["drug@1"], results["effect/magnitude-ratio"].per_condition["drug@1"]
    assert cosine.value > 0.9
    assert ratio.ci_low <= 1.0 <= ratio.ci_high
    assert abs(ratio.value - 1.0) < 0.25
    assert results["effect/magnitude-ratio"].ideal == 1.0 and results["effect/cosine"].ideal is None
    floor = results["effect/cosine"].floor["drug@1"].value
    assert floor > 0.8  # two halves of real drug cells agree on the direction


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
    for tt, rr, expected_ratio in [(0.0, 4.0, 0.0), (4.0, 4.0, 1.0), (100.0, 4.0, 5.0), (1.0, 4.0, 0.5), (-0.1, 4.0, 0.0)]:
        assert ratio_of(tt, 0.0, rr) == pytest.approx(expected_ratio)
        assert error_of(tt, 0.0, rr) == pytest.approx(abs(expected_ratio - 1.0))
    assert np.isnan(ratio_of(1.0, 0.0, 0.0))  # no real shift: no ratio


def test_a_resampled_unit_is_not_paired_with_its_own_copy() -> None:
    # Rows x1, x1, x2 drawn from the originals (x1, x2): the only pairs of distinct units are
    # (x1, x2) twice and (x2, x1) twice, so the estimate of mean . mean is x1 . x2.
    x1, x2 = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    rows = np.stack([x1, x1, x2])
    assert mean_dot(rows, rows, paired=True, origin=np.array([0, 0, 1])) == pytest.approx(x1 @ x2)
    assert mean_dot(rows[[0, 2]], rows[[0, 2]], paired=True) == pytest.approx(x1 @ x2)  # no copies
    assert np.isnan(mean_dot(rows[:2], rows[:2], paired=True, origin=np.array([0, 0])))  # one unit


@pytest.mark.parametrize("measure, truth", [(magnitude_ratio, 0.8), (cosine, 1.0)])
def test_intervals_cover_the_true_effect_of_a_gaussian_world(measure, truth) -> None:
    # 300 features, 64 cells: the translation moves cells 0.8 times the real shift. A resample that
    # paired a cell with its own copy added about 300/64 to every squared norm, and no interval
    # held the truth (0 of 20 before this was fixed).
    rng = np.random.default_rng(0)
    shift = np.zeros(300)
    shift[:30] = 0.5
    covered = 0
    for trial in range(20):
        sources = rng.normal(size=(64, 300))
        translated = sources + 0.8 * shift + 0.3 * rng.normal(size=(64, 300))
        real = rng.normal(size=(64, 300)) + shift
        value = value_with_ci(measure, [np.concatenate([translated, sources], axis=1), real], n_boot=200, seed=trial)
        assert value.ci_low <= value.value <= value.ci_high
        covered += value.ci_low <= truth <= value.ci_high
    assert covered >= 17  # 95% intervals: 19 of 20 expected
