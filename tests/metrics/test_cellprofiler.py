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


def _evaluation(translated_for):
    doses = {"drug@1": (0.5, 0.2, 0.3), "drug@3": (0.6, 0.4, 0.3), "drug@10": (0.7, 0.6, 0.3)}
    real = {c: _dose_images(levels, seed=i) for i, (c, levels) in enumerate(doses.items())}
    real["DMSO"] = _dose_images((0.45, 0.1, 0.3), seed=9)
    translated = {c: real[translated_for(c)] for c in doses}
    return make_evaluation(real, translated, conditions=["DMSO", *doses])


def test_real_images_as_translations_correlate_perfectly(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    [result] = CellProfilerCorrelation().compute(_evaluation(lambda c: c))
    assert result.per_condition["drug"].value == pytest.approx(1.0)
    assert result.pooled.value == pytest.approx(1.0)
    assert result.arrays["histogram"].sum() == np.isfinite(result.arrays["r/drug"]).sum() > 10
    assert result.arrays["histogram"][-1] == result.arrays["histogram"].sum()  # all in the top bin


def test_reversed_doses_anticorrelate_the_intensities(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    reverse = {"drug@1": "drug@10", "drug@3": "drug@3", "drug@10": "drug@1"}
    [result] = CellProfilerCorrelation().compute(_evaluation(reverse.get))
    names = [str(n) for n in result.arrays["feature_names"]]
    r = dict(zip(names, result.arrays["r/drug"]))
    assert r["Cells_Intensity_MeanIntensity_ch1"] == pytest.approx(-1.0, abs=0.01)  # means ~evenly spaced
    assert r["Nuclei_Intensity_MeanIntensity_ch0"] == pytest.approx(-1.0, abs=0.01)


def test_identity_has_no_correlation_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    [result] = CellProfilerCorrelation().compute(_evaluation(lambda c: "DMSO"))
    assert result.per_condition["drug"].value is None
    assert "do not vary" in result.per_condition["drug"].missing
