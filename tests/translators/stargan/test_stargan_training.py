"""StarGAN beyond the contract: paper architecture, losses, learning, errors, checkpoints."""

import pytest
import torch
from torch import nn

from phenbench.core.errors import ConfigError, PhenbenchError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.stargan.batches import DRAWS, draw_targets_and_mix, training_batches
from phenbench.translators.stargan.checkpoint import CHECKPOINT_FILE
from phenbench.translators.stargan.config import StarGANConfig
from phenbench.translators.stargan.networks import Discriminator, Generator, discriminator_depth
from phenbench.translators.stargan.training import gradient_penalty
from phenbench.translators.stargan.translator import StarGANTranslator
from tests.translators.stargan.test_stargan_contract import tiny_config


def fitted(steps: int = 2, channels: int = 2, **options) -> tuple[StarGANTranslator, object]:
    data = random_dataset(channels=channels, image_size=8)
    translator = StarGANTranslator(tiny_config(steps), data.spec)
    translator.fit(data, FitOptions(**{"seed": 0, "progress": False, **options}))
    return translator, data


def test_paper_networks_at_128_pixels() -> None:
    # The paper's discriminator: 6 stride-2 layers, 2 x 2 output map, 64 -> 2048 filters.
    assert discriminator_depth(128, 6) == 6
    discriminator = Discriminator(3, 5, 128, 64, discriminator_depth(128, 6))
    score, logits = discriminator(torch.zeros(2, 3, 128, 128))
    assert score.shape == (2, 1, 2, 2) and logits.shape == (2, 5)
    assert discriminator.body[-2].out_channels == 2048
    generator = Generator(5, 4, 64, 6)
    assert generator(torch.zeros(1, 5, 128, 128), torch.tensor([3])).shape == (1, 5, 128, 128)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in generator.modules()) == 2 * 6 + 5


def test_discriminator_depth_shrinks_for_small_images() -> None:
    assert [discriminator_depth(size, 6) for size in (8, 16, 32, 64, 256)] == [2, 3, 4, 5, 6]


def test_gradient_penalty_matches_a_linear_critic() -> None:
    # For D(x) = <w, x> the gradient is w everywhere, so the penalty is (||w|| - 1)^2.
    class Linear(nn.Module):
        def __init__(self, weight: torch.Tensor):
            super().__init__()
            self.weight = weight

        def forward(self, x):
            return (x * self.weight).flatten(1).sum(1, keepdim=True), None

    weight = torch.full((1, 2, 4, 4), 0.5)  # ||w|| = sqrt(32) * 0.5
    real, fake = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    penalty = gradient_penalty(Linear(weight), real, fake, torch.rand(3, 1, 1, 1))
    assert penalty.item() == pytest.approx((32**0.5 * 0.5 - 1) ** 2, rel=1e-5)


def test_learning_rate_is_constant_then_decays_linearly_to_zero() -> None:
    config = StarGANConfig(steps=10, decay_steps=4)
    rates = [config.learning_rate(1.0, step) for step in range(10)]
    assert rates[:6] == [1.0] * 6
    assert rates[6:] == pytest.approx([1.0, 0.75, 0.5, 0.25])


def test_learns_to_move_images_to_the_target_condition() -> None:
    # random_dataset's conditions differ in mean brightness (-0.6, 0, 0.6).
    data = random_dataset(channels=2, image_size=8, per_condition=16)
    config = tiny_config(150, generator_filters=8, discriminator_filters=8, batch_size=8,
                         generator_lr=1e-3, discriminator_lr=1e-3)
    translator = StarGANTranslator(config, data.spec)
    translator.fit(data, FitOptions(seed=0, progress=False))
    source = data.read("test", data.rows("test", 0))
    target_mean = data.read("test", data.rows("test", 2)).mean().item()
    translated = translator.translate(source, 0, 2).images
    assert abs(source.mean().item() - target_mean) > 1.0
    assert abs(translated.mean().item() - target_mean) < 0.3


def test_invert_is_the_image_and_reconstruction_is_translation_to_the_source() -> None:
    translator, data = fitted()
    images = data.read("test", [0, 1])
    inverted = translator.invert(images, 0)
    assert inverted.kind == "image" and inverted.nfe == 0
    torch.testing.assert_close(inverted.latents, images, rtol=0, atol=0)
    expected = translator.generator(images, torch.tensor([0, 0])).detach()
    torch.testing.assert_close(translator.reconstruct(images, 0).images, expected)


def test_untrained_translator_and_bad_sizes_are_clear_errors() -> None:
    data = random_dataset(image_size=8)
    with pytest.raises(PhenbenchError, match="not been trained"):
        StarGANTranslator(tiny_config(1), data.spec).translate(data.read("test", [0]), 0, 1)
    small = random_dataset(image_size=6)
    with pytest.raises(ConfigError, match="divisible by 4"):
        StarGANTranslator(tiny_config(1), small.spec)
    with pytest.raises(ConfigError, match="batch_size"):
        StarGANConfig(batch_size=0)


def test_checkpoint_is_written_atomically_and_refuses_another_config(tmp_path) -> None:
    fitted(steps=2, checkpoint_dir=tmp_path, checkpoint_every=1)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]
    data = random_dataset(channels=2, image_size=8)
    other = StarGANTranslator(tiny_config(4, lambda_rec=5.0), data.spec)
    with pytest.raises(PhenbenchError, match="lambda_rec"):
        other.fit(data, FitOptions(seed=0, progress=False, checkpoint_dir=tmp_path))


def test_a_finished_checkpoint_is_read_back_without_training(tmp_path) -> None:
    translator, data = fitted(steps=3, checkpoint_dir=tmp_path)
    again = StarGANTranslator(tiny_config(3), data.spec)
    report = again.fit(data, FitOptions(seed=0, progress=False, checkpoint_dir=tmp_path))
    assert report.extra["resumed_from_step"] == 3 and len(report.losses) == 3
    images = data.read("test", [0, 1])
    torch.testing.assert_close(again.translate(images, 0, 1).images, translator.translate(images, 0, 1).images)


def test_progress_bar_only_when_asked(capsys) -> None:
    fitted(steps=2, progress=False)
    assert "stargan" not in capsys.readouterr().err
    data = random_dataset(channels=2, image_size=8)
    StarGANTranslator(tiny_config(2), data.spec).fit(data, FitOptions(seed=0, progress=True))
    assert "stargan" in capsys.readouterr().err


def test_training_batches_are_flipped_left_right_half_of_the_time() -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=16)
    labels = data.labels("train")
    batches = {}
    for flip in (True, False):
        config = tiny_config(1, batch_size=len(labels), horizontal_flip=flip)
        batches[flip] = [training_batches(data, labels, config, seed=0, rank=0, processes=1)[s] for s in range(8)]
    flipped, plain = (torch.cat([images for images, _ in batches[k]]) for k in (True, False))
    mirrored = torch.tensor([torch.equal(a, b.flip(2)) for a, b in zip(flipped, plain)])
    kept = torch.tensor([torch.equal(a, b) for a, b in zip(flipped, plain)])
    assert bool((mirrored | kept).all()) and 0.4 < mirrored.float().mean().item() < 0.6
    for (_, with_flips), (_, without) in zip(batches[True], batches[False]):  # the same rows either way
        torch.testing.assert_close(with_flips, without)


def test_an_epoch_reads_every_training_image_once_and_targets_are_the_batch_conditions_shuffled() -> None:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    labels = data.labels("train")
    config = tiny_config(1, batch_size=len(labels) // 2, horizontal_flip=False)
    items = training_batches(data, labels, config, seed=3, rank=0, processes=1)
    epoch = torch.cat([items[0][0], items[1][0]])
    every = data.read("train", list(range(len(labels))))
    assert sorted(map(bytes, epoch.flatten(1).numpy())) == sorted(map(bytes, every.flatten(1).numpy()))
    real, source = items[0]
    batch = draw_targets_and_mix(real, source, seed=3, step=0, rank=0)
    assert sorted(batch.target.tolist()) == sorted(source.tolist())
    assert batch.mix.shape == (len(real), 1, 1, 1) and 0 <= batch.mix.min() and batch.mix.max() <= 1
    again = draw_targets_and_mix(real, source, seed=3, step=0, rank=0)  # a function of (seed, step, rank)
    torch.testing.assert_close(again.mix, batch.mix)
    assert not torch.equal(draw_targets_and_mix(real, source, seed=3, step=1, rank=0).mix, batch.mix)


def test_a_checkpoint_whose_batches_were_drawn_the_old_way_is_not_resumed(tmp_path) -> None:
    data = random_dataset(channels=2, image_size=8)
    StarGANTranslator(tiny_config(2), data.spec).fit(data, FitOptions(seed=0, progress=False, checkpoint_dir=tmp_path))
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert state["draws"] == DRAWS
    del state["draws"]  # as a checkpoint of before: one random stream carried across iterations
    torch.save(state, tmp_path / CHECKPOINT_FILE)
    with pytest.raises(ConfigError, match="StarGAN checkpoint .* drew its batches differently.*--fresh"):
        StarGANTranslator(tiny_config(3), data.spec).fit(data, FitOptions(seed=0, progress=False,
                                                                          checkpoint_dir=tmp_path))
