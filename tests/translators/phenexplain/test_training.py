"""Config resolution, losses, augmentation and the training loop."""

from __future__ import annotations

import pytest
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.dataset import DataSpec
from phenbench.core.errors import ConfigError, DataError, PhenbenchError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phenexplain.config import PhenexplainConfig, resolve
from phenbench.translators.phenexplain.losses import r1_penalty
from phenbench.translators.phenexplain.training import STATE_FILE, Trainer
from phenbench.translators.phenexplain.translator import PhenexWTranslator
from tests.translators.phenexplain.test_contract import tiny_config


@pytest.mark.parametrize(
    "gpus, resolution, batch, gamma, ema_kimg, mbstd",
    [
        # stylegan2-ada-pytorch train.py --cfg=auto --gpus=G: mb = max(min(G * min(4096 // res, 32), 64), G),
        # mbstd = min(mb // G, 4), gamma = 0.0002 * res^2 / mb, ema = mb * 10 / 32 (worked out by hand).
        (1, 64, 32, 0.0256, 10.0, 4),
        (1, 128, 32, 0.1024, 10.0, 4),
        (1, 256, 16, 0.8192, 5.0, 4),
        (4, 128, 64, 0.0512, 20.0, 4),  # Phenexplain's run on 4 GPUs
        (4, 256, 64, 0.2048, 20.0, 4),
        (8, 2048, 16, 52.4288, 5.0, 2),  # 4096 // 2048 = 2 per GPU: the std group shrinks to 2
    ],
)
def test_the_auto_config_scales_with_the_reference_gpu_count(
    gpus: int, resolution: int, batch: int, gamma: float, ema_kimg: float, mbstd: int
) -> None:
    hp = resolve(PhenexplainConfig(reference_gpus=gpus), resolution)
    assert (hp.batch_size, hp.ema_kimg, hp.mbstd_group_size, hp.reference_gpus) == (batch, ema_kimg, mbstd, gpus)
    assert hp.r1_gamma == pytest.approx(gamma)
    assert hp.steps == 25_000_000 // batch  # 25000 kimg
    assert hp.learning_rate == (0.002 if resolution >= 1024 else 0.0025)
    assert hp.channel_base == (32768 if resolution >= 512 else 16384)


@pytest.mark.parametrize(
    "processes, batch, per_process",
    # At 128 px, 4096 // 128 = 32 images per GPU: mb = max(min(P * 32, 64), P) over P processes.
    [(1, 32, 32), (2, 64, 32), (4, 64, 16), (8, 64, 8)],
)
def test_by_default_the_auto_config_is_that_of_the_fits_process_count(processes: int, batch: int, per_process: int) -> None:
    hp = resolve(PhenexplainConfig(), 128, processes)
    assert (hp.reference_gpus, hp.processes, hp.batch_size, hp.batch_per_process) == (processes, processes, batch, per_process)
    assert hp.r1_gamma == pytest.approx(0.0002 * 128**2 / batch) and hp.ema_kimg == batch * 10 / 32


@pytest.mark.parametrize("processes", [1, 2, 8])
def test_a_set_reference_gpus_or_batch_is_the_total_shared_by_the_processes(processes: int) -> None:
    paper = resolve(PhenexWTranslator.config_for("paper"), 128, processes)  # Phenexplain's 4-GPU run
    assert (paper.batch_size, paper.batch_per_process, paper.r1_gamma) == (64, 64 // processes, pytest.approx(0.0512))
    quick = resolve(PhenexWTranslator.config_for("quick"), 64, processes)
    assert (quick.batch_size, quick.batch_per_process) == (16, 16 // processes)


def test_a_batch_that_the_processes_cannot_share_is_refused() -> None:
    with pytest.raises(ConfigError, match="multiple of the 3 processes"):
        resolve(PhenexWTranslator.config_for("quick"), 64, 3)


def test_paper_preset_is_phenexplains_own_run() -> None:
    config = PhenexWTranslator.config_for("paper")
    hp = resolve(config, 128)
    assert (config.reference_gpus, config.mirror, hp.batch_size, hp.ema_kimg) == (4, True, 64, 20.0)
    assert hp.r1_gamma == pytest.approx(0.0512) and config.mapping_layers == 2
    assert hp.channels_at(4, config.channel_max) == 512 and hp.channels_at(128, config.channel_max) == 128
    # Centres: Phenexplain's method 2 (100,000 samples); projection: the projector's 1000 steps of LPIPS alone.
    assert config.centre_samples == 100_000
    assert (config.projection_steps, config.perceptual_weight, config.mse_weight) == (1000, 1.0, 0.0)


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


def test_fit_reports_the_resolved_run_and_its_speed() -> None:
    data = random_dataset(channels=1, image_size=8)
    translator = PhenexWTranslator(tiny_config(4), data.spec)
    report = translator.fit(data, FitOptions(seed=0, progress=False))
    assert report.steps == 4 and len(report.losses) == 4 and len(report.extra["d_losses"]) == 4
    assert report.images_per_second > 0
    assert (report.extra["batch_size"], report.extra["reference_gpus"], report.extra["num_ws"]) == (4, 1, 4)
    assert (report.extra["processes"], report.extra["batch_per_process"]) == (1, 4)
    assert report.extra["G_parameters"] == sum(p.numel() for p in translator.G_ema.parameters())


def test_every_step_is_on_the_three_curves_whatever_the_read_back_window() -> None:
    data = random_dataset(channels=1, image_size=8)
    reports = []
    for window in (1, 3):  # 5 steps: windows of 3 leave a last window of 2
        translator = PhenexWTranslator(tiny_config(5), data.spec)
        reports.append(translator.fit(data, FitOptions(seed=0, progress=False, log_every=window)))
    every, windowed = reports
    assert len(windowed.losses) == 5 and windowed.losses == every.losses
    assert windowed.extra["g_losses"] == every.extra["g_losses"]
    for total, g, d in zip(windowed.losses, windowed.extra["g_losses"], windowed.extra["d_losses"]):
        assert total == pytest.approx(g + d, rel=1e-12)


def test_a_dataset_with_reordered_conditions_is_refused() -> None:
    data = random_dataset(channels=1, image_size=8)
    names = data.spec.conditions.names
    reordered = DataSpec(data.spec.channels, 8, ConditionSet([names[0], names[2], names[1]], control=names[0]))
    translator = PhenexWTranslator(tiny_config(1), reordered)
    with pytest.raises(DataError, match="names or order differ"):
        translator.fit(data, FitOptions(seed=0, progress=False))


def test_mirror_flips_about_half_of_the_real_images(monkeypatch) -> None:
    data = random_dataset(channels=1, image_size=8, per_condition=16)
    batches: dict[bool, list[torch.Tensor]] = {True: [], False: []}
    original = Trainer.step

    def spy(self, real, *rest):
        batches[self.config.mirror].append(real.clone())
        return original(self, real, *rest)

    monkeypatch.setattr(Trainer, "step", spy)
    for mirror in (True, False):
        PhenexWTranslator(tiny_config(1, mirror=mirror, batch_size=32), data.spec).fit(data, FitOptions(progress=False))
    mirrored, plain = batches[True][0], batches[False][0]  # the same rows: the flips are drawn after them
    flipped = [torch.equal(a, b.flip(2)) and not torch.equal(a, b) for a, b in zip(mirrored, plain)]
    assert all(f or torch.equal(a, b) for f, a, b in zip(flipped, mirrored, plain))  # left-right flips only
    assert 0.25 < sum(flipped) / 32 < 0.75


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


def test_the_saved_model_holds_no_discriminator_and_older_saves_still_load(trained_pair, brightness_data, tmp_path) -> None:
    w, _, _ = trained_pair
    w.save(tmp_path / "model")
    payload = torch.load(tmp_path / "model" / "phenexplain.pt", weights_only=True)
    assert set(payload) == {"G_ema", "centres", "spreads"}  # inference needs neither D nor the raw G
    images = brightness_data.read("test", [0, 1])
    expected = w.translate(images, 0, 2).images
    # A save of an earlier version also held G and D: it loads, and they are left out.
    payload["G"], payload["D"] = payload["G_ema"], {"b0.weight": torch.zeros(1)}
    torch.save(payload, tmp_path / "model" / "phenexplain.pt")
    loaded = PhenexWTranslator.load(tmp_path / "model")
    assert not hasattr(loaded, "D") and not hasattr(loaded, "G")
    torch.testing.assert_close(loaded.translate(images, 0, 2).images, expected)


def test_a_checkpoint_whose_draws_came_from_one_carried_generator_is_not_resumed(tmp_path) -> None:
    """Before, a checkpoint held the state of one random generator per process and no way of drawing."""
    data = random_dataset(channels=1, image_size=8)
    PhenexWTranslator(tiny_config(2), data.spec).fit(data, FitOptions(seed=0, checkpoint_dir=tmp_path, progress=False))
    path = tmp_path / STATE_FILE
    payload = torch.load(path, weights_only=True)
    assert payload["draws"] == "per-step-v1"
    del payload["draws"], payload["processes"]
    payload["rng"] = torch.Generator().get_state()
    torch.save(payload, path)
    with pytest.raises(ConfigError, match="Phenexplain checkpoint .* drew its batches differently.*--fresh"):
        PhenexWTranslator(tiny_config(4), data.spec).fit(data, FitOptions(seed=0, checkpoint_dir=tmp_path,
                                                                          progress=False))