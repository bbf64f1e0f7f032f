"""Reconstruction errors against hand-computed values; identity reconstructs perfectly."""

from __future__ import annotations

import math

import pytest
import torch

from phenbench.core.metric import Need
from phenbench.metrics.reconstruction import PSNR_CAP_DB, Reconstruction
from phenbench.translators.identity.translator import IdentityConfig, IdentityTranslator
from phenbench.datasets.in_memory import random_dataset
from tests.metrics.helpers import make_evaluation


def _results(real, reconstructions):
    evaluation = make_evaluation({"drug@1": real}, {"drug@1": real}, reconstructions={"drug@1": reconstructions})
    return {r.name: r for r in Reconstruction().compute(evaluation)}


def test_known_constant_error():
    real = torch.zeros(4, 2, 8, 8)  # 0.5 in [0, 1] units
    off = real + 0.2  # +0.1 in [0, 1] units on every pixel
    results = _results(real, off)
    assert results["reconstruction/mse"].per_condition["drug@1"].value == pytest.approx(0.01)
    assert results["reconstruction/psnr"].per_condition["drug@1"].value == pytest.approx(20.0)
    # L2 over 2 x 8 x 8 = 128 pixels of 0.1 * 255 = 25.5 each
    assert results["reconstruction/l2-255"].per_condition["drug@1"].value == pytest.approx(25.5 * math.sqrt(128))
    assert results["reconstruction/psnr"].higher_is_better and not results["reconstruction/mse"].higher_is_better


def test_identity_translator_reconstructs_perfectly():
    dataset = random_dataset(channels=3, image_size=8)
    translator = IdentityTranslator(IdentityConfig(), dataset.spec)
    images = dataset.read("test", dataset.rows("test", "drug@1"))
    reconstructed = translator.reconstruct(images, "drug@1").images
    results = _results(images, reconstructed)
    assert results["reconstruction/mse"].per_condition["drug@1"].value == 0.0
    assert results["reconstruction/l2-255"].pooled.value == 0.0
    assert results["reconstruction/psnr"].per_condition["drug@1"].value == PSNR_CAP_DB


def test_missing_reconstructions_are_reported_not_invented():
    evaluation = make_evaluation({"drug@1": torch.zeros(2, 1, 4, 4)}, {"drug@1": torch.zeros(2, 1, 4, 4)})
    [mse, *_] = Reconstruction().compute(evaluation)
    assert mse.per_condition["drug@1"].value is None and "reconstructions" in mse.per_condition["drug@1"].missing
    assert Need.RECONSTRUCTION in Reconstruction.needs
