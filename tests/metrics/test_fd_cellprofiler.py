"""`fd-cellprofiler` on drawn cells: zero for the same cells, large for another phenotype."""

from __future__ import annotations

import numpy as np
import pytest

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
    [result] = FDCellProfiler(bootstrap=20, **options).compute(
        make_evaluation({"DMSO": dmso, "drug@1": real}, {"drug@1": translated}))
    return result


def test_the_same_cells_are_at_distance_zero():
    drug = _dose_images((0.8, 0.6, 0.2), n=16, seed=2)
    result = _score(drug, drug)
    assert result.per_condition["drug@1"].value == pytest.approx(0.0, abs=1e-8)
    assert np.all(result.arrays["mean_term/drug@1"] == 0)


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
