"""CycleGAN as its reference code trains: resize-crop-flip augmentation and a schedule in epochs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cyclegan.augment import augment, random_crop, resize
from phenbench.translators.cyclegan.config import CycleGANConfig, Schedule
from phenbench.translators.cyclegan.translator import CycleGANTranslator
from tests.translators.cyclegan.test_cyclegan_contract import tiny_config


def test_random_crop_is_the_window_at_the_offset() -> None:
    images = torch.randn(3, 2, 9, 9, generator=torch.Generator().manual_seed(0))
    offsets = torch.tensor([[0, 0], [1, 0], [1, 1]])
    crops = random_crop(images, offsets, 8)
    for image, (row, col), crop in zip(images, offsets.tolist(), crops):
        torch.testing.assert_close(crop, image[:, row : row + 8, col : col + 8], rtol=0, atol=0)


def test_each_image_is_a_flipped_or_plain_crop_of_its_enlargement_at_a_uniform_offset() -> None:
    size, n = 32, 200
    images = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = augment(images, CycleGANConfig(), torch.Generator().manual_seed(1))
    enlarged = resize(images, 36)  # round(32 x 286 / 256) = 36: crops start at 0..4
    found, flips = [], 0
    for i in range(n):
        windows = enlarged[i].unfold(1, size, 1).unfold(2, size, 1)  # 1 x 5 x 5 x 32 x 32
        for flip in (False, True):
            candidate = out[i].flip(2) if flip else out[i]
            match = (windows - candidate.reshape(1, 1, 1, size, size)).abs().amax(dim=(0, 3, 4)) < 1e-6
            if match.any():
                found.append(tuple(match.nonzero()[0].tolist()))
                flips += flip
                break
    assert len(found) == n  # every output is such a crop
    rows = torch.tensor([r for r, _ in found])
    assert set(rows.tolist()) == set(range(5)) and abs(rows.float().mean().item() - 2) < 0.3
    assert 0.4 < flips / n < 0.6


def test_both_off_leaves_the_images_alone() -> None:
    images = torch.randn(4, 2, 8, 8)
    config = CycleGANConfig(load_scale=1.0, horizontal_flip=False)
    torch.testing.assert_close(augment(images, config, torch.Generator()), images, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="load_scale"):
        CycleGANConfig(load_scale=0.5)


def test_the_schedule_is_100_plus_100_epochs_of_the_larger_domain() -> None:
    config = CycleGANConfig()
    assert config.schedule(1000) == Schedule(200_000, 100_000)  # the paper's 1,000-image domains
    assert config.schedule(96) == Schedule(19_200, 9_600)
    assert CycleGANConfig(batch_size=4, epochs=3, decay_epochs=1).schedule(37) == Schedule(40, 10)  # ceil(37 / 4) = 10
    assert CycleGANConfig(steps=7, decay_steps=2).schedule(1000) == Schedule(7, 2)
    assert Schedule(10, 4).learning_rate(1.0, 5) == 1.0
    assert [Schedule(10, 4).learning_rate(1.0, s) for s in (6, 7, 8, 9)] == pytest.approx([1.0, 0.75, 0.5, 0.25])
    with pytest.raises(ConfigError, match="both steps and decay_steps"):
        CycleGANConfig(steps=10)


def test_fit_turns_epochs_into_iterations_per_pair_from_its_data() -> None:
    data = random_dataset(channels=1, image_size=8, per_condition=5)
    config = dataclasses.replace(tiny_config(1), steps=None, decay_steps=None, epochs=1, decay_epochs=1, batch_size=2)
    report = CycleGANTranslator(config, data.spec).fit(data, FitOptions(seed=0, progress=False, pairs=((0, 1),)))
    # 5 training images per domain, batch 2: 3 iterations an epoch, 2 epochs.
    assert report.extra["steps_per_model"] == {"DMSO<->drug@1": 6} and report.steps == 6
    assert len(report.losses) == 6
