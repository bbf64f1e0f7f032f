"""Shared fixtures: one briefly trained Phenexplain model that several test files reuse."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phenexplain.config import PhenexplainConfig
from phenbench.translators.phenexplain.translator import PhenexWPlusTranslator, PhenexWTranslator
from tests.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


def small_config(**overrides) -> PhenexplainConfig:
    """8 x 8 images, 200 steps: enough for the GAN to learn the conditions' brightness (~4 s)."""
    settings = dict(
        z_dim=16, w_dim=16, mapping_layers=2, d_mapping_layers=1, channel_base=128, channel_max=32,
        steps=200, batch_size=8, learning_rate=0.005, pl_weight=0.0, style_mixing_prob=0.0, ema_kimg=0.05,
        augment=False, centre_samples=256, projection_steps=50, projection_batch_size=16,
    )
    settings.update(overrides)
    return PhenexplainConfig(**settings)


@pytest.fixture(scope="session")
def brightness_data():
    """Three conditions whose images differ in mean brightness (-0.6, 0, 0.6), two channels."""
    return random_dataset(channels=2, image_size=8, per_condition=16)


@pytest.fixture(scope="session")
def trained_pair(brightness_data):
    """A phenex-w and a phenex-wplus translator sharing one trained generator."""
    torch.set_num_threads(1)
    w = PhenexWTranslator(small_config(), brightness_data.spec)
    report = w.fit(brightness_data, FitOptions(seed=0, progress=False))
    wplus = PhenexWPlusTranslator(small_config(), brightness_data.spec)
    wplus.G_ema = w.G_ema
    wplus.centres, wplus.spreads = w.centres, w.spreads
    return w, wplus, report
