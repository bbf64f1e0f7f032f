"""FID and KID against torch-fidelity's own result on the same images, with an injected extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.metrics.base import condition_seed, matched_halves
from phenbench.metrics.fidelity import FID, KID
from tests.metrics.helpers import blobs, make_evaluation, register_tiny_extractor, torch_fidelity_metrics


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    return register_tiny_extractor()


def test_fid_and_kid_equal_torch_fidelity_at_matched_n(tiny):
    real = blobs(40, brightness=0.5, seed=1)
    translated = blobs(40, brightness=0.0, seed=2)
    evaluation = make_evaluation({"drug@1": real, "DMSO": blobs(40, seed=3)}, {"drug@1": translated})
    options = dict(feature_extractor=tiny, kid_subsets=5, kid_subset_size=1000)
    [fid] = FID(**options).compute(evaluation)
    [kid] = KID(**options).compute(evaluation)
    # Matched N: 20 translated images against real half B; the floor is half A against half B.
    t_rows, a_rows, b_rows = matched_halves(40, 40, condition_seed(evaluation, "drug@1", "fidelity"))
    assert len(t_rows) == len(a_rows) == len(b_rows) == 20 and not set(a_rows) & set(b_rows)
    reference = torch_fidelity_metrics(translated[t_rows], real[b_rows], tiny, 10)
    floor = torch_fidelity_metrics(real[a_rows], real[b_rows], tiny, 10)
    value = fid.per_condition["drug@1"]
    assert value.value == pytest.approx(reference["frechet_inception_distance"], rel=1e-6)
    assert fid.floor["drug@1"].value == pytest.approx(floor["frechet_inception_distance"], rel=1e-6)
    assert fid.floor["drug@1"].n == value.n == 20
    # torch-fidelity keeps float32 features for KID; we keep float64: agreement to float32 precision
    assert kid.per_condition["drug@1"].value == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-4)
    assert value.ci_low < value.value < value.ci_high
    assert fid.floor["drug@1"].value < value.value / 2  # the brightness shift is far above the floor


def test_kid_subsets_are_at_most_half_the_images_and_their_spread_is_not_a_measure(tiny):
    # With kid_subset_size >= n every subset was the whole sample: a std of ~0 stored as a
    # "lower is better" measure that could win a table.
    real, translated = blobs(40, brightness=0.5, seed=1), blobs(40, seed=2)
    evaluation = make_evaluation({"drug@1": real}, {"drug@1": translated})
    results = KID(feature_extractor=tiny, kid_subsets=5, kid_subset_size=1000, bootstrap=0).compute(evaluation)
    assert [r.name for r in results] == ["kid"]
    [kid] = results
    assert int(kid.arrays["subset_size/drug@1"][0]) == 10  # half of the 20 images per side
    t_rows, _, b_rows = matched_halves(40, 40, condition_seed(evaluation, "drug@1", "fidelity"))
    reference = torch_fidelity_metrics(translated[t_rows], real[b_rows], tiny, 10)
    std = float(kid.arrays["std/drug@1"][0])
    assert std == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-3) and std > 1e-4


def test_matched_sample_size_is_reported_and_capped(tiny):
    real = blobs(30, seed=1)
    translated = blobs(50, seed=2)
    evaluation = make_evaluation({"drug@1": real}, {"drug@1": translated})
    [fid] = FID(feature_extractor=tiny, bootstrap=0, max_images=20).compute(evaluation)
    assert fid.per_condition["drug@1"].n == 10  # 20 real images used, halves of 10; 10 translated
    assert fid.floor["drug@1"].n == 10 and fid.pooled.n == 10


def test_real_features_are_read_from_the_disk_cache(tiny, tmp_path):
    real, translated = blobs(20, seed=1), blobs(20, seed=2)

    def score():
        evaluation = make_evaluation({"drug@1": real}, {"drug@1": translated}, dataset_hash="abc")
        return FID(feature_extractor=tiny, bootstrap=0).compute(evaluation)[0].per_condition["drug@1"].value

    first = score()
    [path] = (tmp_path / "features").glob("abc__test__drug-1__*.npz")
    with np.load(path) as stored:
        features = stored["features"]
    np.savez(path, features=features + 1.0)  # a hit must read this file back, not recompute
    assert score() > first + 5  # read back: the real features moved by 1 in each of 12 dimensions
    path.unlink()
    assert score() == pytest.approx(first, rel=1e-12)  # recomputed, and written again
    assert path.exists()


def test_missing_inception_weights_give_a_missing_value_naming_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    evaluation = make_evaluation({"drug@1": blobs(8, seed=1)}, {"drug@1": blobs(8, seed=2)})
    [fid] = FID(allow_download=False).compute(evaluation)
    value = fid.per_condition["drug@1"]
    assert value.value is None
    assert "weights_path" in value.missing and "hub/checkpoints" in value.missing
    assert fid.pooled.value is None


def test_a_weights_path_that_does_not_exist_is_reported(tmp_path):
    evaluation = make_evaluation({"drug@1": blobs(8, seed=1)}, {"drug@1": blobs(8, seed=2)})
    [fid] = FID(weights_path=str(tmp_path / "nope.pth")).compute(evaluation)
    assert "does not exist" in fid.per_condition["drug@1"].missing


def test_unknown_options_are_rejected_with_the_valid_list():
    with pytest.raises(ConfigError, match="max_images"):
        FID(max_image=10)


def test_kid_intervals_hold_the_estimate_and_the_truth_of_one_distribution() -> None:
    # Two samples of one Gaussian: the true KID is 0. Resampled with copies fed to torch-fidelity's
    # subsets, every resample sat above the estimate (0.05 to 0.09) and no interval held 0.
    from phenbench.metrics.statistics import bootstrap_ci

    kid, rng, held = KID(kid_subsets=10, kid_subset_size=50), np.random.default_rng(0), 0
    for trial in range(5):
        a, b = rng.normal(size=(100, 16)), rng.normal(size=(100, 16))
        estimate = kid._kid(a, b)["mean"]
        low, high, _ = bootstrap_ci(kid.resampled_kid, [a, b], n_boot=200, seed=trial)
        assert low <= estimate <= high
        held += low <= 0.0 <= high
    assert held >= 4
