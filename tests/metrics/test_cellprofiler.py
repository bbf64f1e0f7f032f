"""The paper's CellProfiler correlation: constructed data with known answers, and end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from phenbench.metrics.cellprofiler import CellProfilerCorrelation, feature_correlations
from tests.metrics.helpers import make_evaluation
from tests.metrics.test_cp_features import disc_image


def test_feature_correlations_match_scipy_on_constructed_means():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(5, 6))
    translated = np.column_stack([
        2 * real[:, 0] + 1,  # r = +1
        -real[:, 1],  # r = -1
        rng.normal(size=5), rng.normal(size=5), rng.normal(size=5),
        np.full(5, 3.0),  # constant: undefined
    ])
    r = feature_correlations(real, translated)
    assert r[0] == pytest.approx(1.0) and r[1] == pytest.approx(-1.0)
    for k in (2, 3, 4):
        assert r[k] == pytest.approx(pearsonr(real[:, k], translated[:, k]).statistic)
    assert np.isnan(r[5])


def _dose_images(levels, n=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = []
    for i in range(n):
        image, _ = disc_image(7.0 + i % 3, (levels[0], levels[1], levels[2]), size=32)
        images.append(image + 0.02 * torch.randn(image.shape, generator=generator))
    return torch.stack(images).clamp(-1, 1)


DOSES = {"drug@1": (0.5, 0.2, 0.3), "drug@3": (0.6, 0.4, 0.3), "drug@10": (0.7, 0.6, 0.3)}


def _evaluation(translated_for, n=8, max_images=None):
    """Real cells of three doses; translations chosen per dose by `translated_for(dose)`: a dose
    name gives *other* cells of that dose (a new draw), "DMSO" the untranslated control cells."""
    real = {c: _dose_images(levels, n=n, seed=i) for i, (c, levels) in enumerate(DOSES.items())}
    real["DMSO"] = _dose_images((0.45, 0.1, 0.3), n=n, seed=9)
    other = {c: _dose_images(levels, n=n, seed=20 + i) for i, (c, levels) in enumerate(DOSES.items())}
    translated = {c: real["DMSO"] if translated_for(c) == "DMSO" else other[translated_for(c)] for c in DOSES}
    return make_evaluation(real, translated, conditions=["DMSO", *DOSES])


def test_other_cells_of_each_dose_correlate_as_well_as_the_real_halves(tmp_path, monkeypatch):
    # Not the same images (that correlates perfectly by construction): a new draw of each dose.
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    [result] = CellProfilerCorrelation().compute(_evaluation(lambda c: c, n=16))
    value, floor = result.per_condition["drug"], result.floor["drug"]
    # Most of ~100 features (sizes, shapes) do not move with the dose here, so the median is modest.
    assert value.value > 0.1 and floor.value > 0.1
    assert value.ci_low <= floor.value <= value.ci_high  # same distribution: within noise of the floor
    assert value.n == floor.n == 3 * 8  # matched N: 8 translated vs 8 real (half B) cells per dose, as A vs B
    # The intensity features that the doses move correlate near 1; checked against scipy on the
    # per-dose means of features measured directly (cp_features.extract), not through the metric.
    names = [str(n) for n in result.arrays["feature_names"]]
    r = dict(zip(names, result.arrays["r/drug"]))
    assert r["Cells_Intensity_MeanIntensity_ch1"] > 0.95
    assert result.pooled.value == pytest.approx(value.value)
    assert result.arrays["histogram"].sum() == np.isfinite(result.arrays["r/drug"]).sum() > 10


def test_feature_correlation_of_a_measured_feature_matches_scipy(tmp_path, monkeypatch):
    from phenbench.metrics.cp_features import extract

    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    evaluation = _evaluation(lambda c: c, n=4)
    channels = evaluation.channels
    real = [extract(evaluation.bundles[d].real, channels) for d in DOSES]
    translated = [extract(evaluation.bundles[d].translated, channels) for d in DOSES]
    column = real[0].names.index("Nuclei_Intensity_MeanIntensity_ch0")
    expected = pearsonr([t.values[:, column].mean() for t in real[:1] + real[1:]],
                        [t.values[:, column].mean() for t in translated]).statistic
    # means over all cells, standardised or not, give the same r: r is invariant to a linear map
    r = feature_correlations(np.stack([t.values.mean(0) for t in real]), np.stack([t.values.mean(0) for t in translated]))
    assert r[column] == pytest.approx(expected)


def test_reversed_doses_anticorrelate_the_intensities(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    reverse = {"drug@1": "drug@10", "drug@3": "drug@3", "drug@10": "drug@1"}
    [result] = CellProfilerCorrelation().compute(_evaluation(reverse.get))
    names = [str(n) for n in result.arrays["feature_names"]]
    r = dict(zip(names, result.arrays["r/drug"]))
    assert r["Cells_Intensity_MeanIntensity_ch1"] == pytest.approx(-1.0, abs=0.02)  # means ~evenly spaced
    assert r["Nuclei_Intensity_MeanIntensity_ch0"] == pytest.approx(-1.0, abs=0.02)


@pytest.mark.parametrize("max_images", [None, 5])
def test_identity_has_no_correlation_at_any_n(tmp_path, monkeypatch, max_images):
    # With max_images below the number of cells, translated sets used to be subsampled with a seed
    # per dose: the same DMSO cells gave different means per dose and a spurious correlation.
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    [result] = CellProfilerCorrelation(max_images=max_images).compute(_evaluation(lambda c: "DMSO", n=8))
    assert result.per_condition["drug"].value is None
    assert "do not vary" in result.per_condition["drug"].missing
    assert result.pooled.value is None
    assert np.isnan(result.arrays["r/drug"]).all()
