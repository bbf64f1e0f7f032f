"""FID and KID against torch-fidelity's own result on the same images, with an injected extractor."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.metrics.fidelity import FID, KID
from phenbench.metrics.projection import to_rgb_uint8
from tests.metrics.helpers import blobs, make_evaluation, register_tiny_extractor


class _Images(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path))
    return register_tiny_extractor()


def _reference(translated, real, extractor, n):
    import torch_fidelity

    return torch_fidelity.calculate_metrics(
        input1=_Images(to_rgb_uint8(translated)), input2=_Images(to_rgb_uint8(real)), fid=True, kid=True,
        feature_extractor=extractor, cuda=False, cache=False, verbose=False, save_cpu_ram=True,
        kid_subset_size=n, kid_subsets=5,
    )


def test_fid_and_kid_equal_torch_fidelity_on_the_same_images(tiny):
    real = blobs(40, brightness=0.5, seed=1)
    translated = blobs(40, brightness=0.0, seed=2)
    evaluation = make_evaluation({"drug@1": real, "DMSO": blobs(40, seed=3)}, {"drug@1": translated})
    options = dict(feature_extractor=tiny, bootstrap=5, kid_subsets=5, kid_subset_size=20)
    [fid] = FID(**options).compute(evaluation)
    kid, kid_std = KID(**options).compute(evaluation)
    reference = _reference(translated, real, tiny, 20)

    assert fid.per_condition["drug@1"].value == pytest.approx(reference["frechet_inception_distance"], rel=1e-6)
    # torch-fidelity keeps float32 features for KID; we keep float64: agreement to float32 precision
    assert kid.per_condition["drug@1"].value == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-4)
    assert kid_std.per_condition["drug@1"].value == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-3)
    value = fid.per_condition["drug@1"]
    assert value.n == 40 and value.ci_low < value.value < value.ci_high
    # the brightness shift is far above the two-halves floor
    assert fid.floor["drug@1"].value < value.value / 2


def test_matched_sample_size_is_reported_and_capped(tiny):
    real = blobs(30, seed=1)
    translated = blobs(50, seed=2)
    evaluation = make_evaluation({"drug@1": real}, {"drug@1": translated})
    [fid] = FID(feature_extractor=tiny, bootstrap=0, max_images=20).compute(evaluation)
    assert fid.per_condition["drug@1"].n == 20
    assert fid.pooled.n == 20


def test_real_features_are_cached_on_disk(tiny, tmp_path):
    real, translated = blobs(20, seed=1), blobs(20, seed=2)
    first = FID(feature_extractor=tiny, bootstrap=0).compute(
        make_evaluation({"drug@1": real}, {"drug@1": translated}, dataset_hash="abc"))[0]
    files = list((tmp_path / "features").glob("abc__test__drug-1__*.npz"))
    assert len(files) == 1
    second = FID(feature_extractor=tiny, bootstrap=0).compute(
        make_evaluation({"drug@1": real}, {"drug@1": translated}, dataset_hash="abc"))[0]
    assert second.per_condition["drug@1"].value == first.per_condition["drug@1"].value


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
