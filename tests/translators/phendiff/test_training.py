"""PhenDiff training: the LR schedule, the separate EMA copy, checkpoints, and the progress bar."""

from __future__ import annotations

import math

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phendiff.checkpoint import LATEST
from phenbench.translators.phendiff.model import UNet2DModel
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.translators.phendiff.test_contract import tiny_config


def fit(config, **options):
    data = random_dataset(channels=2, image_size=8)
    translator = PhenDiffTranslator(config, data.spec)
    report = translator.fit(data, FitOptions(seed=0, progress=False, **options))
    return translator, report, data


def weights(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_learning_rates_follow_cosine_with_warmup_in_optimizer_steps() -> None:
    config = tiny_config(8, lr_warmup_steps=3)
    _, report, _ = fit(config)
    expected = [
        1e-3 * (k / 3 if k < 3 else 0.5 * (1 + math.cos(math.pi * (k - 3) / (8 - 3))))
        for k in range(8)
    ]
    assert report.extra["learning_rates"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert report.extra["processes"] == 1
    assert len(report.losses) == 8 and all(math.isfinite(x) for x in report.losses)


def test_ema_is_a_separate_copy_used_for_translation_and_saving(tmp_path) -> None:
    translator, _, data = fit(tiny_config(5))
    live, ema = weights(translator.unet), weights(translator.ema_unet)
    assert not torch.allclose(live, ema)  # the EMA was not copied onto the live model
    images = data.read("test", [0, 1])
    result = translator.translate(images, 0, 1)
    torch.testing.assert_close(weights(translator.unet), live, rtol=0, atol=0)  # evaluation left both alone
    torch.testing.assert_close(weights(translator.ema_unet), ema, rtol=0, atol=0)
    translator.save(tmp_path / "model")
    saved = UNet2DModel.from_pretrained(tmp_path / "model" / "unet")
    torch.testing.assert_close(weights(saved), ema, rtol=0, atol=0)  # saved from the EMA copy
    # The EMA copy is what translates: a translator holding the live weights translates differently.
    other = PhenDiffTranslator(translator.config, translator.spec)
    other.ema_unet.load_state_dict(translator.unet.state_dict())
    assert not torch.allclose(other.translate(images, 0, 1).images, result.images)


def test_ema_with_zero_decay_tracks_the_live_weights() -> None:
    translator, _, _ = fit(tiny_config(3, ema_max_decay=0.0))
    torch.testing.assert_close(weights(translator.ema_unet), weights(translator.unet), rtol=0, atol=0)


def test_checkpoints_are_complete_and_pruned(tmp_path) -> None:
    fit(tiny_config(5), checkpoint_dir=tmp_path, checkpoint_every=1)
    assert (tmp_path / LATEST).read_text().strip() == "step-000000005"
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-000000004", "step-000000005"]
    # A kill while writing leaves a temporary folder: it is ignored, and the run resumes.
    (tmp_path / ".step-000000006.tmp").mkdir()
    _, report, _ = fit(tiny_config(6), checkpoint_dir=tmp_path, checkpoint_every=1)
    assert report.extra["resumed_from_step"] == 5 and len(report.losses) == 6


def test_resuming_another_model_is_refused(tmp_path) -> None:
    fit(tiny_config(2), checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match="only `steps` may change"):
        fit(tiny_config(4, learning_rate=5e-4), checkpoint_dir=tmp_path)


def test_progress_bar_shows_loss_and_throughput_only_when_asked(capsys) -> None:
    data = random_dataset(channels=1, image_size=8)
    PhenDiffTranslator(tiny_config(2), data.spec).fit(data, FitOptions(progress=False))
    assert capsys.readouterr().err == ""
    PhenDiffTranslator(tiny_config(2), data.spec).fit(data, FitOptions(progress=True))
    err = capsys.readouterr().err
    assert "loss=" in err and "img_s=" in err


def test_a_fit_draws_its_initialisation_from_the_seed() -> None:
    data = random_dataset(channels=1, image_size=8)
    a = PhenDiffTranslator(tiny_config(1), data.spec)
    b = PhenDiffTranslator(tiny_config(1), data.spec)
    a.fit(data, FitOptions(seed=1, progress=False))
    b.fit(data, FitOptions(seed=2, progress=False))
    assert not torch.allclose(weights(a.unet), weights(b.unet))


def test_fits_with_different_mixed_precision_in_one_process() -> None:
    """accelerate's settings are a process-wide singleton: a bf16 fit then an fp32 fit must both run."""
    _, bf16, _ = fit(tiny_config(2, mixed_precision="bf16"))
    _, fp32, _ = fit(tiny_config(2))
    _, fp32_again, _ = fit(tiny_config(2))
    assert fp32.losses == fp32_again.losses
    assert bf16.losses != fp32.losses  # bf16 autocast really ran
