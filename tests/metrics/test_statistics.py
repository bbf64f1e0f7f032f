"""The Fréchet distance against its closed form, bootstrap intervals, and the channel projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.metrics.projection import projection_matrix, to_rgb_uint8
from phenbench.metrics.statistics import (
    bootstrap_ci,
    frechet_distance,
    value_with_ci,
    frechet_distance_of_features,
    gaussian_statistics,
)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    got = frechet_distance({"mu": mu1, "sigma": np.diag(var1)}, {"mu": mu2, "sigma": np.diag(var2)})
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_the_closed_form_for_commuting_full_covariances():
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    eig1, eig2 = np.array([1.0, 2.0, 3.0, 0.5]), np.array([4.0, 1.0, 0.1, 2.0])
    sigma1, sigma2 = rotation @ np.diag(eig1) @ rotation.T, rotation @ np.diag(eig2) @ rotation.T
    expected = 4.0 + np.sum(eig1 + eig2 - 2 * np.sqrt(eig1 * eig2))
    got = frechet_distance({"mu": np.zeros(4), "sigma": sigma1}, {"mu": np.full(4, 1.0), "sigma": sigma2})
    assert got == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_samples_converges_to_the_population_value():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(20000, 2))
    b = rng.normal([3.0, 0.0], [2.0, 1.0], size=(20000, 2))
    expected = 9.0 + (1 + 4 - 2 * 2)  # mean term + variance term of the first axis
    assert frechet_distance_of_features(a, b) == pytest.approx(expected, rel=0.03)


def test_bootstrap_interval_of_a_mean_matches_the_normal_approximation():
    sample = np.random.default_rng(2).normal(5.0, 2.0, size=400)
    low, high, missing = bootstrap_ci(lambda x: float(np.mean(x)), [sample], n_boot=400, seed=0)
    assert missing is None
    half_width = 1.96 * sample.std() / np.sqrt(len(sample))
    assert low == pytest.approx(sample.mean() - half_width, abs=0.05)
    assert high == pytest.approx(sample.mean() + half_width, abs=0.05)


def test_bootstrap_is_seeded():
    sample = np.arange(50.0)
    first = bootstrap_ci(np.mean, [sample], n_boot=50, seed=3)
    assert first == bootstrap_ci(np.mean, [sample], n_boot=50, seed=3)
    assert first != bootstrap_ci(np.mean, [sample], n_boot=50, seed=4)
    assert bootstrap_ci(np.mean, [sample], n_boot=0, seed=3) == (None, None, None)  # none asked for: no reason


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5, 6])
def test_projection_keeps_white_white_and_black_black(channels):
    white = torch.ones(1, channels, 4, 4)
    assert (to_rgb_uint8(white) == 255).all()
    assert (to_rgb_uint8(-white) == 0).all()
    assert projection_matrix(channels).shape == (3, channels)


def test_projection_of_three_channels_is_the_identity():
    images = torch.linspace(-1, 1, 48).reshape(1, 3, 4, 4)
    expected = ((images + 1) / 2 * 255).round().to(torch.uint8)
    assert torch.equal(to_rgb_uint8(images), expected)


@pytest.mark.parametrize("n1, n2", [(30, 40), (12, 12)])
def test_low_rank_route_equals_torch_fidelitys_formula(n1, n2):
    rng = np.random.default_rng(5)
    a = rng.normal(size=(n1, 64)) @ rng.normal(size=(64, 64))
    b = rng.normal(0.3, 1.5, size=(n2, 64))
    expected = frechet_distance(gaussian_statistics(a), gaussian_statistics(b))  # torch-fidelity
    assert frechet_distance_of_features(a, b) == pytest.approx(expected, rel=1e-7)


def test_bca_interval_of_an_exponential_mean_matches_the_exact_chi_square_interval():
    # For exponential data, 2 n mean / theta ~ chi2(2n): the exact interval is asymmetric. BCa
    # follows it; a bias-shifted percentile interval is nearly symmetric and misses its upper end.
    from scipy.stats import chi2

    sample = np.random.default_rng(0).exponential(1.0, size=40)
    n, mean = len(sample), sample.mean()
    exact = (2 * n * mean / chi2.ppf(0.975, 2 * n), 2 * n * mean / chi2.ppf(0.025, 2 * n))
    low, high, _ = bootstrap_ci(np.mean, [sample], n_boot=2000, seed=0)
    assert low == pytest.approx(exact[0], abs=0.02)
    assert high == pytest.approx(exact[1], abs=0.04)


def test_rows_of_one_field_are_resampled_together():
    # 12 fields of 25 cells: cells of a field share the field's level. The honest interval is
    # the t-interval over the 12 field means; resampling cells as if independent is far too narrow.
    from scipy import stats

    rng = np.random.default_rng(1)
    fields = np.repeat(np.arange(12), 25)
    cells = rng.normal(0, 1, 12)[fields] + rng.normal(0, 0.1, len(fields))
    field_means = np.array([cells[fields == k].mean() for k in range(12)])
    expected = stats.t.interval(0.95, 11, field_means.mean(), stats.sem(field_means))
    low, high, _ = bootstrap_ci(np.mean, [cells], n_boot=1000, seed=0, groups=[fields])
    width = expected[1] - expected[0]
    assert (high - low) == pytest.approx(width, rel=0.25)  # the bootstrap of 12 units is a bit narrower
    assert low < field_means.mean() < high
    naive_low, naive_high, _ = bootstrap_ci(np.mean, [cells], n_boot=1000, seed=0)
    assert naive_high - naive_low < width / 3


@pytest.mark.parametrize("resamples", [10, 50, 199, -1])
def test_fewer_than_200_resamples_are_refused(resamples):
    from phenbench.core.errors import ConfigError
    from phenbench.metrics.fd_cellprofiler import FDCellProfiler

    with pytest.raises(ConfigError, match="bootstrap must be 0 .* at least 200"):
        FDCellProfiler(bootstrap=resamples)
    assert FDCellProfiler(bootstrap=0).options.bootstrap == 0
    assert FDCellProfiler().options.bootstrap == 200


def test_no_interval_from_fewer_than_five_independent_units():
    cells = np.random.default_rng(2).normal(size=80)
    four_fields = np.repeat(np.arange(4), 20)
    low, high, why = bootstrap_ci(np.mean, [cells], n_boot=200, seed=0, groups=[four_fields])
    assert (low, high) == (None, None) and "4 independent units" in why and "fewer than the 5" in why
    five_fields = np.repeat(np.arange(5), 16)
    low, high, why = bootstrap_ci(np.mean, [cells], n_boot=200, seed=0, groups=[five_fields])
    assert low < cells.mean() < high and why is None
    value = value_with_ci(np.mean, [cells], n_boot=200, seed=0, groups=[four_fields])
    assert value.value == pytest.approx(cells.mean()) and value.ci_low is None and "4 independent units" in value.ci_missing


def test_no_interval_where_most_resamples_are_not_finite_says_so():
    # The ratio of two means whose denominator is 0 in many resamples (1 nonzero row of 20).
    sample = np.zeros((20, 2))
    sample[:, 0] = np.random.default_rng(0).normal(size=20)
    sample[0, 1] = 1.0

    def ratio(x):
        return float(np.mean(x[:, 0]) / np.mean(x[:, 1])) if np.mean(x[:, 1]) else float("inf")

    # A resample misses the nonzero row with probability (19/20)^20 = 36%: binomially 72 +- 7 of 200.
    low, high, why = bootstrap_ci(ratio, [sample], n_boot=200, seed=0)
    assert (low, high) == (None, None)
    count = int(why.split(" of ")[0].rsplit(" ", 1)[1])
    assert 45 < count < 100 and why.endswith("of 200 bootstrap resamples have no finite value (more than 10%)")
