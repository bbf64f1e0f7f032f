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
    [identity] = FDCellProfiler().compute(make_evaluation(real, {TOP: test["DMSO"]}))
    [perfect] = FDCellProfiler().compute(make_evaluation(real, {TOP: train[TOP]}))
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
    [share] = ConditionClassifier().compute(evaluation)
    ceiling = share.floor[TOP]  # the reference row: held-out real cells, same K-class scale
    identity = share.per_condition[TOP]
    assert ceiling.value >= 0.85  # real cyclohexamide@50 test cells are recognised
    assert identity.value <= 0.2  # untranslated DMSO cells are not taken for cyclohexamide@50
    assert identity.ci_high < ceiling.ci_low


def _dose_response(test, translated):
    evaluation = make_evaluation(test, translated, conditions=["DMSO", *DOSES])
    # 20 features: channel-2 mean intensity ranks about 8th of ~330 with near-tied neighbours
    return {r.name: r for r in DoseResponse(top_features=20).compute(evaluation)}


def test_dose_response_of_other_real_cells_and_of_a_dose_blind_translator(crops):
    train, test = crops
    means = raw_channel_means(2)  # the data's own figures: 2262, 3468, 3894, 4302
    assert list(means.values()) == sorted(means.values())
    # other real cells of each dose (training crops) as translations: the real response
    results = _dose_response(test, {d: train[d] for d in DOSES})
    arrays = results["dose-response/spearman-translated"].arrays
    names = [str(n) for n in arrays["feature_names"]]
    rho = dict(zip(names, arrays["rho-real/cyclohexamide"]))
    assert rho["Cells_Intensity_MeanIntensity_ch2"] > 0.2  # channel 2 still rises among the doses
    real = results["dose-response/spearman-real"].per_condition["cyclohexamide"]
    faithful = results["dose-response/spearman-translated"].per_condition["cyclohexamide"]
    floor = results["dose-response/spearman-translated"].floor["cyclohexamide"]
    assert real.value > 0.35 and faithful.value > 0.35 and floor.value > 0.15
    assert results["dose-response/lowest-dose-real"].per_condition["cyclohexamide"].value == 5.0
    # every dose translated to cyclohexamide@50's cells: no response among the doses (the control
    # anchoring the series used to credit it with most of the real response)
    blind = _dose_response(test, {d: train[TOP] for d in DOSES})
    assert blind["dose-response/spearman-translated"].per_condition["cyclohexamide"].value == 0.0


def test_dose_response_of_the_identity_is_zero(crops):
    _, test = crops
    results = _dose_response(test, {d: test["DMSO"] for d in DOSES})
    assert results["dose-response/spearman-translated"].per_condition["cyclohexamide"].value == 0.0
    assert results["dose-response/lowest-dose-translated"].per_condition["cyclohexamide"].value is None
