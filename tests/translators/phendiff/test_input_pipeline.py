"""PhenDiff's training input pipeline: batches read ahead by workers, gradient accumulation, and the
loss read back from the device once per window; none of which may change what is trained."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.translators.phendiff.test_contract import tiny_config


def fit(config, **options):
    data = random_dataset(channels=2, image_size=8, per_condition=6)
    translator = PhenDiffTranslator(config, data.spec)
    report = translator.fit(data, FitOptions(seed=3, progress=False, **options))
    return translator, report


def weights(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_reading_ahead_with_workers_trains_the_same_model() -> None:
    inline, inline_report = fit(tiny_config(4, batch_size=3), loader_workers=0)
    ahead, ahead_report = fit(tiny_config(4, batch_size=3), loader_workers=2)
    assert ahead_report.extra["loader_workers"] == 2
    assert ahead_report.losses == inline_report.losses
    torch.testing.assert_close(weights(ahead.unet), weights(inline.unet), rtol=0, atol=0)


def test_the_loss_curve_has_every_step_whatever_the_read_back_window() -> None:
    _, every_step = fit(tiny_config(5), log_every=1)
    _, windowed = fit(tiny_config(5), log_every=3)  # 5 steps: a window of 3, then the last 2
    assert len(windowed.losses) == 5 and windowed.losses == every_step.losses


def test_an_accumulated_step_averages_the_losses_of_its_micro_batches() -> None:
    # With a learning rate of 0 the weights never move, so the two runs see the same network: step s
    # of the accumulating run trains on micro-batches 2s and 2s + 1, which are steps 2s and 2s + 1
    # of the plain run (same rows, flips, noise and timesteps: all drawn per micro-batch).
    frozen = dict(learning_rate=0.0, weight_decay=0.0, unconditional_probability=0.0, batch_size=2)
    _, plain = fit(tiny_config(6, **frozen))
    _, accumulated = fit(tiny_config(3, gradient_accumulation_steps=2, **frozen))
    expected = [(plain.losses[2 * s] + plain.losses[2 * s + 1]) / 2 for s in range(3)]
    assert accumulated.losses == pytest.approx(expected, rel=1e-6)
    assert len(set(plain.losses)) == 6  # the micro-batches differ


def test_accumulation_trains_on_the_effective_batch() -> None:
    translator, report = fit(tiny_config(3, gradient_accumulation_steps=2, batch_size=2))
    assert len(report.losses) == 3 and len(report.extra["learning_rates"]) == 3  # optimizer steps
    untrained, _ = fit(tiny_config(0, gradient_accumulation_steps=2, batch_size=2))  # the seed's initial weights
    assert not torch.allclose(weights(translator.unet), weights(untrained.unet))
    # 3 optimizer steps x 2 micro-batches x 2 images.
    assert report.images_per_second == pytest.approx(12 / report.seconds, rel=1e-6)
