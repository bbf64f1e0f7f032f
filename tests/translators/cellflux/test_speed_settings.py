"""CellFlux's speed settings, which must leave what is computed alone (NHWC and compiled
translation, the loss read back in windows, pairs read ahead by workers) or near fp32 (bf16
translation)."""

from __future__ import annotations

import torch

from phenbench.core.config import replace_config
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cellflux.translator import CellFluxTranslator
from tests.translators.cellflux.test_cellflux_contract import tiny_config


def test_nhwc_and_bf16_translate_as_fp32_does_to_their_precision() -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    model = CellFluxTranslator(tiny_config(3, channels_last=False), data.spec)
    model.fit(data, FitOptions(seed=0, progress=False))
    images = data.read("test", [0, 1, 2])
    reference = model.translate(images, 0, 1).images

    def variant(**settings) -> torch.Tensor:
        other = CellFluxTranslator(replace_config(model.config, **settings), model.spec)
        other.ema_network.load_state_dict(model.ema_network.state_dict())
        return other.translate(images, 0, 1).images

    torch.testing.assert_close(variant(channels_last=True), reference, rtol=0, atol=1e-4)
    torch.testing.assert_close(variant(compile=True), reference, rtol=0, atol=1e-4)  # frozen weights, NHWC
    bf16 = variant(translate_precision="bf16")
    assert bf16.dtype == torch.float32 and 0 < (bf16 - reference).abs().max().item() < 0.2


def test_the_loss_curve_has_every_step_whatever_the_read_back_window() -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    curves = []
    for window in (1, 3):
        model = CellFluxTranslator(tiny_config(5), data.spec)
        curves.append(model.fit(data, FitOptions(seed=0, progress=False, log_every=window)).losses)
    assert len(curves[1]) == 5 and curves[1] == curves[0]


def test_pairs_read_ahead_by_workers_train_the_same_model() -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    fits = []
    for workers in (0, 2):
        model = CellFluxTranslator(tiny_config(3), data.spec)
        report = model.fit(data, FitOptions(seed=1, progress=False, loader_workers=workers))
        fits.append((report.losses, torch.cat([p.flatten() for p in model.network.parameters()])))
    assert fits[1][0] == fits[0][0]
    torch.testing.assert_close(fits[1][1], fits[0][1], rtol=0, atol=0)
