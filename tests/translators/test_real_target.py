"""The real-target baseline: the translator contract, and outputs that are real training images
of the target, never the test images it is scored against."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.translators.real_target.translator import RealTargetConfig, RealTargetTranslator
from tests.translators.contract import TranslatorContract


class TestRealTargetContract(TranslatorContract):
    translator_class = RealTargetTranslator

    def tiny_config(self, steps: int) -> RealTargetConfig:
        return RealTargetConfig()


def _rows_equal(images: torch.Tensor, pool: torch.Tensor) -> list[bool]:
    return [bool((pool.half().float() == image).flatten(1).all(1).any()) for image in images]


def test_outputs_are_training_images_of_the_target_never_test_images() -> None:
    contract = TestRealTargetContract()
    data = contract.dataset()
    translator = RealTargetTranslator(RealTargetConfig(), data.spec)
    translator.fit(data, FitOptions(seed=0, progress=False))
    sources = data.read("test", data.rows("test", "DMSO"))
    out = translator.translate(sources, "DMSO", "drug@10").images
    train_target = data.read("train", data.rows("train", "drug@10"))
    assert all(_rows_equal(out, train_target))
    assert not any(_rows_equal(out, data.read("test", data.rows("test"))))
    # the same input gives the same output; different inputs draw independently
    assert torch.equal(out, translator.translate(sources, "DMSO", "drug@10").images)


def test_it_keeps_at_most_max_per_condition_images() -> None:
    data = TestRealTargetContract().dataset()
    translator = RealTargetTranslator(RealTargetConfig(max_per_condition=2), data.spec)
    translator.fit(data, FitOptions(seed=0, progress=False))
    assert len(translator._images) == 2 * len(data.spec.conditions)
    with pytest.raises(ConfigError, match="max_per_condition"):
        RealTargetTranslator.config_for(None, {"max_per_condition": 0})
