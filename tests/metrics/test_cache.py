"""The feature cache: keys spell out their parts, writes are atomic, bad files are recomputed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phenbench.metrics.cache import FeatureCache, cache_key, cache_root, images_digest


def test_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PHENBENCH_CACHE", str(tmp_path / "here"))
    assert cache_root() == tmp_path / "here"
    monkeypatch.delenv("PHENBENCH_CACHE")
    assert cache_root().parts[-2:] == (".cache", "phenbench")


def test_key_names_every_part_and_changes_with_the_images():
    images = torch.zeros(3, 2, 4, 4)
    key = cache_key(dataset_hash="abc", split="test", condition="taxol@0.3", extractor="inception-2048",
                    n_images=3, digest=images_digest(images))
    assert key.startswith("abc__test__taxol-0.3__inception-2048__n3__")
    assert images_digest(images) != images_digest(images + 1e-3)
    assert images_digest(images) != images_digest(images.reshape(3, 1, 8, 4))


def test_hit_miss_and_no_temporary_files_left(tmp_path):
    cache = FeatureCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"features": np.arange(6.0).reshape(2, 3)}

    first = cache.get_or_compute("k", compute)
    second = cache.get_or_compute("k", compute)
    np.testing.assert_array_equal(first["features"], second["features"])
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert [p.name for p in (tmp_path / "features").iterdir()] == ["k.npz"]


def test_a_failed_computation_writes_nothing(tmp_path):
    cache = FeatureCache(tmp_path)

    def boom():
        raise RuntimeError("extractor crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", boom)
    assert not (tmp_path / "features").exists() or not list((tmp_path / "features").iterdir())


def test_a_corrupt_file_is_recomputed_and_replaced(tmp_path):
    cache = FeatureCache(tmp_path)
    (tmp_path / "features").mkdir()
    cache.path("k").write_bytes(b"half a file")
    value = cache.get_or_compute("k", lambda: {"x": np.ones(2)})
    np.testing.assert_array_equal(value["x"], np.ones(2))
    np.testing.assert_array_equal(FeatureCache(tmp_path).load("k")["x"], np.ones(2))


def test_disabled_cache_never_writes(tmp_path):
    cache = FeatureCache(tmp_path, enabled=False)
    cache.get_or_compute("k", lambda: {"x": np.ones(2)})
    assert not (tmp_path / "features").exists()
