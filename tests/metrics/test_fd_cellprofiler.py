"""`fd-cellprofiler` on drawn cells: at the floor for a new draw of the phenotype, far above it for
another, with the floor at matched N; the distance checked against torch-fidelity's formula."""

from __future__ import annotations

import pytest

from phenbench.metrics.base import condition_seed

from phenbench.metrics.fd_cellprofiler import FDCellProfiler
from tests.metrics.helpers import make_evaluation
from tests.metrics.test_cellprofiler import _dose_images


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # one cache for the module: real cells measured once
        patch.setenv("PHENBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def _score(translated, real, **options):
    dmso = _dose_images((0.45, 0.1, 0.3), n=16, seed=1)
    [result] = FDCellProfiler(**options).compute(
        make_evaluation({"DMSO": dmso, "drug@1": real}, {"drug@1": translated}))
    return result


def test_a_new_draw_of_the_phenotype_sits_at_the_floor_at_matched_n():
    # Not the same images (distance 0 by construction): other cells of the same phenotype.
    drug = _dose_images((0.8, 0.6, 0.2), n=16, seed=2)
    other = _dose_images((0.8, 0.6, 0.2), n=16, seed=4)
    result = _score(other, drug, components=3)
    value, floor = result.per_condition["drug@1"], result.floor["drug@1"]
    assert value.n == floor.n == 8  # 8 translated vs real half B, as half A vs half B
    assert value.ci_low <= floor.value <= value.ci_high
    assert result.pooled.value == pytest.approx(value.value) and result.floor["pooled"].value == pytest.approx(floor.value)


def test_the_distance_is_torch_fidelitys_on_the_projected_features():
    # Recompute the value from the metric's own inputs by another route: torch-fidelity's formula
    # on the means and covariances of the same projected cells.
    from phenbench.metrics.base import matched_halves
    from phenbench.metrics.feature_space import CellFeatureSpace
    from phenbench.metrics.statistics import frechet_distance, gaussian_statistics

    drug = _dose_images((0.8, 0.6, 0.2), n=16, seed=2)
    other = _dose_images((0.6, 0.3, 0.25), n=16, seed=4)
    dmso = _dose_images((0.45, 0.1, 0.3), n=16, seed=1)
    evaluation = make_evaluation({"DMSO": dmso, "drug@1": drug}, {"drug@1": other})
    metric = FDCellProfiler(components=3, bootstrap=0)
    [result] = metric.compute(evaluation)
    space = CellFeatureSpace(evaluation, metric.options)
    project = metric._projection(space, evaluation)
    translated, real = space.translated("drug@1"), space.real("drug@1")
    t_rows, _, b_rows = matched_halves(len(translated), len(real), condition_seed(evaluation, "drug@1", metric.name))
    expected = frechet_distance(gaussian_statistics(project(translated.x[t_rows])),
                                gaussian_statistics(project(real.x[b_rows])))
    assert result.per_condition["drug@1"].value == pytest.approx(expected, rel=1e-9)


def test_pooled_only_when_every_condition_was_scored():
    drug = _dose_images((0.8, 0.6, 0.2), n=16, seed=2)
    dmso = _dose_images((0.45, 0.1, 0.3), n=16, seed=1)
    blank = drug.clone()
    blank[:, 1] = -1.0  # every translation to drug@3 lost a channel: no cell to measure
    evaluation = make_evaluation({"DMSO": dmso, "drug@1": drug, "drug@3": drug},
                                 {"drug@1": drug.flip(0), "drug@3": blank})
    [result] = FDCellProfiler(components=3, bootstrap=0).compute(evaluation)
    assert result.per_condition["drug@1"].value is not None and result.per_condition["drug@3"].value is None
    assert result.pooled.value is None and result.pooled.missing == "missing for drug@3"


# With all ~300 features and 8 cells per half, covariance noise lifts the floor close to the
# value: the reason the default projects onto a few principal components.
@pytest.mark.parametrize("components, factor", [(3, 2.0), (None, 1.2)])
def test_another_phenotype_is_far_above_the_floor(components, factor):
    drug = _dose_images((0.8, 0.6, 0.2), n=16, seed=2)
    dmso_like = _dose_images((0.45, 0.1, 0.3), n=16, seed=3)
    result = _score(dmso_like, drug, components=components)
    value = result.per_condition["drug@1"]
    assert value.value > factor * result.floor["drug@1"].value
    assert value.ci_low is not None and value.ci_low < value.value < value.ci_high
    names = list(result.arrays["feature_names"])
    term = dict(zip(names, result.arrays["mean_term/drug@1"]))
    # the drawn phenotypes differ in intensity, not in size: the per-feature terms say so
    assert term["Cells_Intensity_MeanIntensity_ch1"] > 1.0
    assert term["Nuclei_Intensity_MeanIntensity_ch0"] > 1.0
    assert term["Nuclei_AreaShape_Area"] < 0.05
