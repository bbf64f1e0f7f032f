"""PhenDiff translation in reduced precision, NHWC memory order and compiled: each an option that
must leave the translation what fp32 computes (to its own precision) and the saved model alone."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.config import replace_config
from phenbench.core.fast_inference import autocast_dtype
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.translators.phendiff.test_contract import tiny_config


def test_auto_precision_is_the_training_precision_on_a_gpu_and_fp32_on_a_cpu() -> None:
    assert autocast_dtype("auto", "bf16", "cuda:0") is torch.bfloat16
    assert autocast_dtype("auto", "fp16", "cuda") is torch.float16
    assert autocast_dtype("auto", "no", "cuda") is None
    assert autocast_dtype("auto", "bf16", "cpu") is None  # bf16 matmuls are slower there
    assert autocast_dtype("fp32", "bf16", "cuda") is None
    assert autocast_dtype("bf16", "no", "cpu") is torch.bfloat16  # asked for: used


@pytest.fixture(scope="module")
def trained():
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    model = PhenDiffTranslator(tiny_config(4, channels_last=False), data.spec)
    model.fit(data, FitOptions(seed=0, progress=False))
    return model, data.read("test", [0, 1, 2])


def variant(model: PhenDiffTranslator, **settings) -> PhenDiffTranslator:
    other = PhenDiffTranslator(replace_config(model.config, **settings), model.spec)
    other.ema_unet.load_state_dict(model.ema_unet.state_dict())
    return other


def test_bf16_translation_runs_in_bf16_and_returns_fp32_close_to_fp32(trained) -> None:
    model, images = trained
    fp32 = model.translate(images, 0, 1).images
    bf16 = variant(model, translate_precision="bf16").translate(images, 0, 1).images
    assert bf16.dtype == torch.float32
    difference = (bf16 - fp32).abs().max().item()
    assert 0 < difference < 0.1  # bf16 keeps 8 bits of mantissa: different, not wrong


def test_channels_last_translates_as_the_default_order_and_saves_a_plain_model(trained, tmp_path) -> None:
    model, images = trained
    nhwc = variant(model, channels_last=True)
    out = nhwc.translate(images, 0, 1).images
    convs = [p for p in nhwc.ema_unet.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    torch.testing.assert_close(out, model.translate(images, 0, 1).images, rtol=0, atol=1e-4)
    nhwc.save(tmp_path / "model")
    loaded = PhenDiffTranslator.load(tmp_path / "model")
    torch.testing.assert_close(loaded.translate(images, 0, 1).images, out, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_a_compiled_unet_translates_as_the_eager_one_and_follows_its_weights(trained) -> None:
    model, images = trained
    eager, compiled = variant(model), variant(model, compile=True)
    before = eager.translate(images, 0, 1).images
    torch.testing.assert_close(compiled.translate(images, 0, 1).images, before, rtol=0, atol=1e-4)
    # The compiled graph holds the weights as constants (freezing); an in-place change that leaves
    # the module object alone (as an EMA copy through .data does) must still reach the translation.
    with torch.no_grad():
        for network in (eager.ema_unet, compiled.ema_unet):
            network.conv_out.weight.data.mul_(-2.0)
    changed = eager.translate(images, 0, 1).images
    assert (changed - before).abs().max() > 1e-2
    torch.testing.assert_close(compiled.translate(images, 0, 1).images, changed, rtol=0, atol=1e-4)
