"""Config resolution, losses, augmentation and the training loop."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.errors import ConfigError, PhenbenchError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phenexplain.augment import AdaptiveAugment, augment
from phenbench.translators.phenexplain.config import PhenexplainConfig, resolve
from phenbench.translators.phenexplain.losses import r1_penalty
from phenbench.translators.phenexplain.translator import PhenexWTranslator
from tests.translators.phenexplain.test_contract import tiny_config


@pytest.mark.parametrize(
    "resolution, batch, gamma, ema_kimg",
    [
        # stylegan2-ada-pytorch train.py --cfg=auto --gpus=1: mb = min(4096 // res, 32),
        # gamma = 0.0002 * res^2 / mb, ema = mb * 10 / 32 (worked out by hand).
        (64, 32, 0.0256, 10.0),
        (128, 32, 0.1024, 10.0),
        (256, 16, 0.8192, 5.0),
    ],
)
def test_paper_preset_is_the_auto_config(resolution: int, batch: int, gamma: float, ema_kimg: float) -> None:
    config = PhenexWTranslator.config_for("paper")
    hp = resolve(config, resolution)
    assert (hp.batch_size, hp.ema_kimg, hp.mbstd_group_size) == (batch, ema_kimg, 4)
    assert hp.r1_gamma == pytest.approx(gamma)
    assert (hp.channel_base, hp.learning_rate, config.mapping_layers) == (16384, 0.0025, 2)
    assert hp.steps == 25_000_000 // batch  # 25000 kimg
    assert hp.channels_at(4, config.channel_max) == 512 and hp.channels_at(128, config.channel_max) == 128
    assert config.projection_steps == 1000 and config.perceptual_weight > 0


def test_quick_preset_is_small_and_pixel_only() -> None:
    config = PhenexWTranslator.config_for("quick")
    assert config.perceptual_weight == 0 and config.projection_steps < 1000
    assert resolve(config, 32).r1_gamma == pytest.approx(0.0002 * 32**2 / 16)


@pytest.mark.parametrize("size", [12, 4, 48])
def test_image_size_must_be_a_power_of_two(size: int) -> None:
    with pytest.raises(ConfigError, match="power-of-two"):
        resolve(PhenexplainConfig(), size)


@pytest.mark.parametrize("bad", [{"architecture_g": "orig"}, {"style_mixing_prob": 2.0}, {"mse_weight": 0.0},
                                 {"batch_size": 0}])
def test_bad_values_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError):
        PhenexWTranslator.config_for("quick", bad)


def test_r1_penalty_is_the_squared_gradient_norm() -> None:
    images = torch.randn(3, 2, 4, 4, requires_grad=True)
    direction = torch.randn(2, 4, 4)
    logits = (images * direction).sum(dim=[1, 2, 3]) + (images**2).sum(dim=[1, 2, 3])
    expected = (direction + 2 * images.detach()).square().sum(dim=[1, 2, 3])  # d logit / d image
    torch.testing.assert_close(r1_penalty(images, logits), expected)


def test_augment_is_identity_at_p_zero_and_changes_images_at_p_one() -> None:
    rng = torch.Generator().manual_seed(0)
    images = torch.rand(8, 5, 16, 16) * 2 - 1
    pipeline = AdaptiveAugment(batch_size=8)
    assert pipeline(images, rng) is images
    changed = augment(images, 1.0, rng)
    assert changed.shape == images.shape
    assert (changed - images).abs().flatten(1).max(dim=1).values.min() > 0  # every image touched


def test_augment_p_follows_the_rt_heuristic() -> None:
    pipeline = AdaptiveAugment(target=0.6, interval=4, speed_kimg=1.0, batch_size=25)  # step 0.1
    pipeline.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # r_t = 0.5 < 0.6: D not overfitting
    assert pipeline.adjust() == pytest.approx(0.5) and pipeline.p == 0.0  # clamped at 0
    for _ in range(3):
        pipeline.observe(torch.ones(4))  # r_t = 1 > 0.6: more augmentation
        pipeline.adjust()
    assert pipeline.p == pytest.approx(0.3)
    pipeline.observe(-torch.ones(4))
    pipeline.adjust()
    assert pipeline.p == pytest.approx(0.2)


def test_fit_reports_losses_and_speed() -> None:
    data = random_dataset(channels=1, image_size=8)
    translator = PhenexWTranslator(tiny_config(4), data.spec)
    report = translator.fit(data, FitOptions(seed=0, progress=False))
    assert report.steps == 4 and len(report.losses) == 4 and len(report.extra["d_losses"]) == 4
    assert report.images_per_second > 0
    torch.testing.assert_close(
        torch.tensor(report.losses), torch.tensor(report.extra["g_losses"]) + torch.tensor(report.extra["d_losses"])
    )


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path) -> None:
    data = random_dataset(channels=1, image_size=8)
    PhenexWTranslator(tiny_config(2), data.spec).fit(data, FitOptions(seed=0, checkpoint_dir=tmp_path))
    other = PhenexWTranslator(tiny_config(4, w_dim=12), data.spec)
    with pytest.raises(PhenbenchError, match="another config"):
        other.fit(data, FitOptions(seed=0, checkpoint_dir=tmp_path))


def test_training_learns_the_conditions(trained_pair) -> None:
    """After 200 steps the generator's images under each condition have that condition's brightness."""
    translator, _, report = trained_pair
    z = torch.randn(128, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        means = [translator.G_ema(z, torch.full((128,), c)).mean().item() for c in range(3)]
    # Real means are -0.6, 0 and 0.6 (clamped noise of sd 0.2 around them).
    assert means[0] < -0.3 and abs(means[1]) < 0.2 and means[2] > 0.3, means
    assert report.steps == 200
