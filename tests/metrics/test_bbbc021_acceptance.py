"""Acceptance on real BBBC021 crops (plate Week4_27801): the metrics see the real phenotype.

40 crops per condition for training and 40 other crops for testing (cp-measure costs ~0.04 s per
crop, so the whole module measures ~320 crops once, shared through the disk cache).
"""

from __future__ import annotations

import numpy as np
import pytest

from phenbench.metrics.classifier import ConditionClassifier
from phenbench.metrics.dose_response import DoseResponse
from phenbench.metrics.fd_cellprofiler import FDCellProfiler
from tests.metrics.bbbc021_crops import load_split, needs_crops, raw_channel_means
from tests.metrics.helpers import make_evaluation

pytestmark = needs_crops
DOSES = ["cyclohexamide@5", "cyclohexamide@15", "cyclohexamide@50"]
TOP = "cyclohexamide@50"


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHENBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield load_split(40, seed=0)


def test_fd_cellprofiler_separates_dmso_from_cyclohexamide_far_above_the_floor(crops):
    train, test = crops
    real = {"DMSO": test["DMSO"], TOP: test[TOP]}
    # identity: DMSO cells offered as cyclohexamide@50; "perfect": other real cyclohexamide@50 cells
    [identity] = FDCellProfiler(bootstrap=20).compute(make_evaluation(real, {TOP: test["DMSO"]}))
    [perfect] = FDCellProfiler(bootstrap=20).compute(make_evaluation(real, {TOP: train[TOP]}))
    distance, floor = identity.per_condition[TOP], identity.floor[TOP]
    assert distance.value > 4 * floor.value
    assert distance.ci_low > floor.value
    assert perfect.per_condition[TOP].value < distance.value / 3


def test_classifier_separates_dmso_from_cyclohexamide_far_above_the_floor(crops):
    train, test = crops
    evaluation = make_evaluation(
        {"DMSO": test["DMSO"], TOP: test[TOP]}, {TOP: test["DMSO"]},
        real_train={"DMSO": train["DMSO"], TOP: train[TOP]},
    )
    results = {r.name: r for r in ConditionClassifier(bootstrap=50).compute(evaluation)}
    ceiling = results["classifier/real-share"].per_condition[TOP]
    floor = results["classifier/target-share"].floor[TOP]
    identity = results["classifier/target-share"].per_condition[TOP]
    assert ceiling.value >= 0.85  # real cyclohexamide@50 test cells are recognised
    assert floor.value <= 0.7  # two halves of the same condition are not separable (~0.5)
    assert ceiling.value - floor.value > 0.25
    assert identity.value <= 0.2  # untranslated DMSO cells are not taken for cyclohexamide@50


def _dose_response(test, translated):
    evaluation = make_evaluation(test, translated, conditions=["DMSO", *DOSES])
    # 20 features: channel-2 mean intensity ranks about 8th of ~330 with near-tied neighbours
    return {r.name: r for r in DoseResponse(bootstrap=20, top_features=20).compute(evaluation)}


def test_dose_response_finds_the_monotone_response_of_channel_2(crops):
    _, test = crops
    means = raw_channel_means(2)  # the data's own figures: 2262, 3468, 3894, 4302
    assert list(means.values()) == sorted(means.values())
    results = _dose_response(test, {d: test[d] for d in DOSES})  # real cells as translations
    arrays = results["dose-response/spearman-translated"].arrays
    names = [str(n) for n in arrays["feature_names"]]
    top = [names[i] for i in arrays["top-features/cyclohexamide"]]
    assert sum(name.endswith("_ch2") for name in top) >= len(top) // 2  # channel 2 dominates the response
    assert "Cells_Intensity_MeanIntensity_ch2" in top
    column = top.index("Cells_Intensity_MeanIntensity_ch2")
    curve = arrays["real-means/cyclohexamide"][:, column]
    assert np.all(np.diff(curve) > 0)  # rises at 0 < 5 < 15 < 50 uM, like the raw means
    assert np.all(np.abs(arrays["rho-real/cyclohexamide"][arrays["top-features/cyclohexamide"]]) > 0.5)
    real = results["dose-response/spearman-real"].per_condition["cyclohexamide"]
    perfect = results["dose-response/spearman-translated"].per_condition["cyclohexamide"]
    assert perfect.value == pytest.approx(real.value)
    assert results["dose-response/spearman-translated"].floor["cyclohexamide"].value > 0.4
    assert results["dose-response/lowest-dose-real"].per_condition["cyclohexamide"].value == 5.0


def test_dose_response_of_the_identity_is_zero(crops):
    _, test = crops
    results = _dose_response(test, {d: test["DMSO"] for d in DOSES})
    assert results["dose-response/spearman-translated"].per_condition["cyclohexamide"].value == 0.0
    assert results["dose-response/lowest-dose-translated"].per_condition["cyclohexamide"].value is None
