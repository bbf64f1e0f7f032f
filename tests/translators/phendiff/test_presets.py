"""The `paper` preset against the original PhenDiff run (thethomasboyer/PhenDiff, commit b060a15)."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phendiff.config import PhenDiffConfig
from phenbench.translators.phendiff.model import build_scheduler, build_unet
from phenbench.translators.phendiff.training import scaled_learning_rate
from phenbench.translators.phendiff.translator import PhenDiffTranslator

# models_configs/noise_scheduler/3k_steps_clipping_rescaling.json, as published.
PUBLISHED_SCHEDULER = {
    "beta_schedule": "scaled_linear",
    "beta_end": 0.02,
    "beta_start": 0.0001,
    "clip_sample": True,
    "clip_sample_range": 1.0,
    "num_train_timesteps": 3000,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
}
# models_configs/denoiser/small_denoiser_config.json (the 128 x 128 RGB model).
PUBLISHED_DENOISER = {
    "block_out_channels": (128, 256, 512),
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
}
# src/args_parser.py defaults (AdamW, cosine schedule, EMA) and the paper's run length.
PUBLISHED_TRAINING = {
    "adam_beta1": 0.95, "adam_beta2": 0.999, "weight_decay": 1e-6, "lr_warmup_steps": 500,
    "ema_inv_gamma": 1.0, "ema_power": 0.75, "ema_max_decay": 0.9999, "unconditional_probability": 0.1,
    "steps": 30_000, "batch_size": 96,
}


def paper() -> PhenDiffConfig:
    return PhenDiffTranslator.config_for("paper")


def test_the_paper_scheduler_is_the_published_one() -> None:
    config = build_scheduler(paper()).config
    for key, value in PUBLISHED_SCHEDULER.items():
        assert config[key] == value, key


def test_the_paper_denoiser_and_training_are_the_published_ones() -> None:
    spec = random_dataset(channels=3, image_size=128, conditions=("DMSO", "drug@1"), per_condition=1).spec
    unet = build_unet(paper(), spec)
    for key, value in PUBLISHED_DENOISER.items():
        assert (tuple(unet.config[key]) if isinstance(value, tuple) else unet.config[key]) == value, key
    for key, value in PUBLISHED_TRAINING.items():
        assert getattr(paper(), key) == value, key


def test_the_paper_preset_inverts_with_plain_ddim_and_the_default_with_fixed_points() -> None:
    assert paper().inversion_iterations == 0
    assert PhenDiffTranslator.config_for("quick").inversion_iterations == 2


@pytest.mark.parametrize(("processes", "expected"), [(1, 1e-4), (4, 2e-4), (8, 2.8284271e-4)])
def test_the_learning_rate_grows_with_the_square_root_of_the_process_count(processes: int, expected: float) -> None:
    assert scaled_learning_rate(paper(), processes) == pytest.approx(expected)
    unscaled = PhenDiffConfig(learning_rate_scaling="none")
    assert scaled_learning_rate(unscaled, processes) == pytest.approx(1e-4)


def test_an_epsilon_model_refuses_an_edict_class_change_but_reconstructs() -> None:
    from tests.translators.phendiff.test_contract import tiny_config

    data = random_dataset(channels=1, image_size=8)
    config = tiny_config(0, sampler="edict", prediction_type="epsilon", timestep_spacing="leading")
    translator = PhenDiffTranslator(config, data.spec)
    images = data.read("test", [0, 1])
    with pytest.raises(ConfigError, match="diverges under a change of condition"):
        translator.translate(images, 0, 1)
    with pytest.raises(ConfigError, match="diverges"):
        translator.translate_to_each(images, 0, [0, 1])
    assert translator.reconstruct(images, 0).images.shape == images.shape
    allowed = PhenDiffTranslator(tiny_config(0, sampler="edict", prediction_type="epsilon",
                                             timestep_spacing="leading", edict_unstable_class_change=True), data.spec)
    assert allowed.translate(images, 0, 1).images.shape == images.shape


@pytest.mark.parametrize("changes", [{"inversion_iterations": 0}, {"inversion_iterations": 2}, {"sampler": "edict"},
                                     {"guidance_scale": 2.0}])
def test_every_sampler_runs_from_the_alpha_zero_top_of_the_paper_grid(changes: dict) -> None:
    """3000 timesteps, zero terminal SNR and 'trailing' spacing: the first generation step starts
    at alpha = 0 exactly, where EDICT's noise form divides by zero."""
    from tests.translators.phendiff.test_contract import tiny_config

    data = random_dataset(channels=2, image_size=8)
    config = tiny_config(0, num_train_timesteps=3000, timestep_spacing="trailing", inversion_steps=6,
                         inference_steps=6, **changes)
    translator = PhenDiffTranslator(config, data.spec)
    assert translator.grid.alpha(6) == 0.0
    images = data.read("test", [0, 1])
    result = translator.translate(images, 0, 2)
    assert torch.isfinite(result.images).all() and result.images.shape == images.shape
    if changes.get("sampler") == "edict":  # exact, even with an untrained network
        assert (translator.reconstruct(images, 0).images - images).abs().max() < 1e-4
