"""`dose-response` on hand-chosen features (injected into the extractor's memo): rho over the
dosed levels only, and lowest doses tested at matched N. References: scipy's spearmanr and
mannwhitneyu on the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, spearmanr

from phenbench.metrics.dose_response import DoseResponse, spearman_per_feature
from tests.metrics.helpers import inject_features, make_evaluation, random_images

DOSES = ["drug@1", "drug@3", "drug@10"]


def _evaluation(real_shift, translated_shift, n_real=20, n_translated=20, n_control=20, seed=0):
    """Feature f0 shifted by `real_shift[d]` in real and `translated_shift[d]` in translated cells of
    dose d; f1, f2 pure noise (sd 1)."""
    rng = np.random.default_rng(seed)

    def cells(n, shift):
        values = rng.normal(size=(n, 3))
        values[:, 0] += shift
        return values

    control = random_images(n_control, 100)
    real = {d: random_images(n_real, 101 + i) for i, d in enumerate(DOSES)}
    translated = {d: random_images(n_translated, 201 + i) for i, d in enumerate(DOSES)}
    evaluation = make_evaluation({"DMSO": control, **real}, translated,
                                 sources={d: control[:n_translated] for d in DOSES}, conditions=["DMSO", *DOSES])
    inject_features(evaluation, control, cells(n_control, 0.0))
    inject_features(evaluation, control[:n_translated], cells(n_translated, 0.0))
    for d in DOSES:
        inject_features(evaluation, real[d], cells(n_real, real_shift[d]))
        inject_features(evaluation, translated[d], cells(n_translated, translated_shift[d]))
    return evaluation


def _results(evaluation, **options):
    return {r.name: r for r in DoseResponse(cache=False, max_images=None, **options).compute(evaluation)}


def test_spearman_per_feature_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    concentrations = np.repeat([1.0, 3.0, 10.0], 5)
    features = np.column_stack([rng.integers(0, 4, 15), rng.normal(size=15), concentrations * 2])
    rho = spearman_per_feature(concentrations, features)
    for k in range(3):
        assert rho[k] == pytest.approx(spearmanr(concentrations, features[:, k]).statistic)


def test_a_translator_that_ignores_the_dose_gets_no_dose_response():
    # Every dose translated to the top dose's phenotype: nothing rises with concentration among
    # the doses. With the control at 0 in the series, the control-vs-treated step earned it ~0.8.
    graded = {"drug@1": 1.0, "drug@3": 2.0, "drug@10": 3.0}
    evaluation = _evaluation(graded, {d: 3.0 for d in DOSES})
    results = _results(evaluation, top_features=1)
    translated = results["dose-response/spearman-translated"].per_condition["drug"]
    # The reference: scipy's rho of f0 over the translated cells of the three doses.
    space_values = [_f0(evaluation, evaluation.bundles[d].translated) for d in DOSES]
    expected = spearmanr(np.repeat([1.0, 3.0, 10.0], 20), np.concatenate(space_values)).statistic
    assert translated.value == pytest.approx(expected, abs=1e-9)
    assert abs(translated.value) < 0.25
    assert results["dose-response/spearman-real"].per_condition["drug"].value > 0.5
    faithful = _results(_evaluation(graded, graded, seed=1), top_features=1)
    assert faithful["dose-response/spearman-translated"].per_condition["drug"].value > 0.5


def _f0(evaluation, images):
    from phenbench.metrics.cache import images_digest
    from phenbench.metrics.cp_features import MEMO_KEY

    return evaluation.options[MEMO_KEY][(images_digest(images), 0, evaluation.channels)].values[:, 0]


def test_lowest_doses_of_real_and_translated_cells_are_tested_at_the_same_n():
    # Dose 1 shifts f0 by 0.9 SD in real and translated cells alike. 60 real cells find it against
    # 12 control cells, 12 translated cells do not: unequal N credited the real cells with a lower
    # lowest dose than the same phenotype translated. At matched N (12 each) both agree.
    shifts = {"drug@1": 0.9, "drug@3": 3.0, "drug@10": 3.0}
    evaluation = _evaluation(shifts, shifts, n_real=60, n_translated=12, n_control=12, seed=11)
    control = _f0(evaluation, evaluation.bundles["drug@1"].sources)
    bonferroni = 0.05 / (3 * 3)
    assert mannwhitneyu(control, _f0(evaluation, evaluation.bundles["drug@1"].real)).pvalue < bonferroni
    assert mannwhitneyu(control, _f0(evaluation, evaluation.bundles["drug@1"].translated)).pvalue > bonferroni
    results = _results(evaluation, top_features=3)
    real = results["dose-response/lowest-dose-real"].per_condition["drug"]
    translated = results["dose-response/lowest-dose-translated"].per_condition["drug"]
    assert real.value == translated.value == 3.0
    assert real.n == translated.n == 12 * 4  # the control and three doses, 12 cells each


@pytest.mark.parametrize("n_translated", [20, 7])
def test_identity_has_exactly_zero_dose_response_at_any_n(n_translated):
    evaluation = _evaluation({"drug@1": 1.0, "drug@3": 2.0, "drug@10": 3.0}, {d: 0.0 for d in DOSES},
                             n_translated=n_translated)
    sources = evaluation.bundles["drug@1"].sources
    for d in DOSES:  # the identity: every dose's translations are the control cells themselves
        evaluation.bundles[d].translated = sources
    results = _results(evaluation)
    assert results["dose-response/spearman-translated"].per_condition["drug"].value == 0.0
    assert results["dose-response/lowest-dose-translated"].per_condition["drug"].value is None
