"""Projection into W and W+, translation by centre differences, and Phenexplain's latent walks."""

from __future__ import annotations

import math

import pytest
import torch

from phenbench.core.errors import MissingWeightsError
from phenbench.translators.phenexplain.latent_ops import condition_centres, interpolate_conditions
from phenbench.translators.phenexplain.projection import learning_rate, noise_regularization
from phenbench.translators.phenexplain.translator import PhenexWTranslator
from tests.translators.phenexplain.conftest import small_config


def dmso_images(data, n: int = 12) -> torch.Tensor:
    return data.read("test", data.rows("test", "DMSO")[:n])


def test_projection_error_is_lower_in_w_plus_than_in_w(trained_pair, brightness_data) -> None:
    """The acceptance check: same images, same steps, same start; W+ has more freedom."""
    w, wplus, _ = trained_pair
    images = dmso_images(brightness_data)
    mse_w = w.project(images, "DMSO").mse
    mse_wplus = wplus.project(images, "DMSO").mse
    assert w.last_projection.steps == wplus.last_projection.steps == 50
    assert mse_wplus.mean() < mse_w.mean(), (mse_wplus.mean(), mse_w.mean())
    # Independently: re-render each latent and measure the error here.
    reconstruction = wplus.reconstruct(images, "DMSO").images
    torch.testing.assert_close((reconstruction - images).square().mean(dim=[1, 2, 3]), mse_wplus, rtol=1e-4, atol=1e-6)


def test_projection_beats_its_starting_point(trained_pair, brightness_data) -> None:
    w, _, _ = trained_pair
    images = dmso_images(brightness_data)
    with torch.no_grad():
        start = w.G_ema.synthesis(w.centres[0].expand(len(images), w.G_ema.num_ws, -1),
                                  generator=torch.Generator().manual_seed(0))
    start_mse = (start.clamp(-1, 1) - images).square().mean()
    projected = w.project(images, "DMSO")
    # The images are brightness plus iid pixel noise of sd 0.2: most of their error (~0.04) is noise
    # no 8 x 8 GAN reproduces, so the gain over the start is modest but must be there.
    assert projected.mse.mean() < 0.9 * start_mse
    assert projected.latents.shape == (len(images), 16)
    assert projected.seconds_per_image > 0


def test_translation_moves_the_projected_latent_by_the_centre_difference(trained_pair, brightness_data) -> None:
    w, wplus, _ = trained_pair
    images = dmso_images(brightness_data)
    for translator in (w, wplus):
        inverted = translator.invert(images, "DMSO")
        assert inverted.kind == translator.space and inverted.nfe == 51
        translated = translator.translate(images, "DMSO", "drug@10")
        # The brighter condition's centre brightens the cells: real drug@10 images sit at +0.6.
        assert translated.images.mean() > images.mean() + 0.5
        shift = translator.centres[2] - translator.centres[0]
        ws = translator.last_projection.ws(translator.G_ema.num_ws) + shift
        with torch.no_grad():
            expected = translator.G_ema.synthesis(ws, noise=translator.last_projection.noise).clamp(-1, 1)
        torch.testing.assert_close(translated.images, expected)


def test_translate_to_each_projects_once_and_works_under_inference_mode(trained_pair, brightness_data) -> None:
    w, _, _ = trained_pair
    images = dmso_images(brightness_data, 4)
    w._projections.clear()
    with torch.inference_mode():  # as the runner calls it
        results = w.translate_to_each(images, "DMSO", ["drug@1", 2])
    assert sorted(results) == [1, 2] and len(w._projections) == 1
    assert results[2].images.mean() > results[1].images.mean()  # drug@10 brighter than drug@1
    total = results[1].seconds + results[2].seconds
    assert total >= w.last_projection.seconds  # each carries a share of the projection time
    torch.testing.assert_close(w.reconstruct(images, 0).images, w.translate(images, 0, 0).images)


def test_condition_centres_are_means_of_mapped_samples(trained_pair) -> None:
    w, _, _ = trained_pair
    centres, spreads = condition_centres(w.G_ema, samples=300, seed=4, batch_size=128)
    rng = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for c in range(3):
            ws = w.G_ema.mapping(torch.randn(300, 16, generator=rng), torch.full((300,), c))
            torch.testing.assert_close(centres[c], ws.mean(dim=0), rtol=1e-4, atol=1e-5)
            assert spreads[c] == pytest.approx(math.sqrt((ws - ws.mean(0)).square().sum(1).mean()), rel=1e-4)


def test_interpolation_walks_from_one_condition_to_the_other(trained_pair) -> None:
    w, _, _ = trained_pair
    generator = w.G_ema
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(2))
    frames = interpolate_conditions(generator, z, source=0, target=2, alphas=(0.0, 0.5, 1.0), noise_seed=9)
    assert frames.shape == (3, 6, 2, 8, 8)
    noise = generator.synthesis.make_noise(6, torch.Generator().manual_seed(9))
    with torch.no_grad():
        w0 = generator.mapping(z, torch.zeros(6, dtype=torch.long))
        w2 = generator.mapping(z, torch.full((6,), 2))
        for frame, w_mid in zip(frames, (w0, (w0 + w2) / 2, w2)):
            expected = generator.synthesis(w_mid.unsqueeze(1).repeat(1, generator.num_ws, 1), noise=noise)
            torch.testing.assert_close(frame, expected.clamp(-1, 1))
    brightness = frames.mean(dim=[1, 2, 3, 4])
    assert brightness[0] < brightness[1] < brightness[2]  # the phenotype moves monotonically


def test_learning_rate_ramps_up_and_down() -> None:
    config = small_config(projection_steps=100, projection_lr=0.1)
    rates = [learning_rate(step, config) for step in range(100)]
    assert rates[0] == 0.0 and rates[5] == pytest.approx(0.1)  # ramp-up over the first 5 %
    assert rates[50] == pytest.approx(0.1)
    assert rates[90] == pytest.approx(0.1 * (0.5 - 0.5 * math.cos(0.4 * math.pi)))  # cosine ramp-down
    assert rates[99] < 0.005


def test_noise_regularization_penalises_correlated_noise() -> None:
    white = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    smooth = torch.ones(2, 1, 16, 16)
    # A constant map has autocorrelation 1 at every shift: 2 shifts x 2 pyramid levels (16, 8).
    torch.testing.assert_close(noise_regularization([smooth]), torch.full((2,), 4.0))
    assert (noise_regularization([white]) < 0.05).all()


def test_perceptual_loss_without_weights_is_a_clear_error(brightness_data, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    translator = PhenexWTranslator(small_config(perceptual_weight=1.0), brightness_data.spec)
    translator.centres, translator.spreads = torch.zeros(3, 16), torch.ones(3)
    with pytest.raises(MissingWeightsError, match="perceptual_weight: 0"):
        translator.invert(dmso_images(brightness_data, 2), "DMSO")
    with pytest.raises(MissingWeightsError):  # before training, not after it
        translator.fit(brightness_data)
    missing = PhenexWTranslator(small_config(perceptual_weight=1.0, vgg16_weights=str(tmp_path / "no.pth")),
                                brightness_data.spec)
    missing.centres, missing.spreads = torch.zeros(3, 16), torch.ones(3)
    with pytest.raises(MissingWeightsError, match="does not exist"):
        missing.invert(dmso_images(brightness_data, 2), "DMSO")


def test_perceptual_loss_runs_with_local_vgg16_weights(trained_pair, brightness_data, tmp_path) -> None:
    """Random VGG16 weights stand in for the real file (not on this machine): the wiring is what is tested."""
    from phenbench.core.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}, path)
    w, _, _ = trained_pair
    translator = PhenexWTranslator(small_config(perceptual_weight=1.0, vgg16_weights=str(path), projection_steps=3),
                                   brightness_data.spec)
    translator.G_ema, translator.centres, translator.spreads = w.G_ema, w.centres, w.spreads
    images = dmso_images(brightness_data, 2)
    distance = translator._perceptual_distance()
    assert torch.allclose(distance(images, images), torch.zeros(2))
    assert (distance(images, -images) > 0).all()
    assert torch.isfinite(translator.invert(images, "DMSO").latents).all()


def test_batched_projection_keeps_images_independent(trained_pair, brightness_data) -> None:
    """Replacing one image of a batch leaves the other's projection unchanged (same random draws)."""
    _, wplus, _ = trained_pair
    images = dmso_images(brightness_data, 2)
    other = images.clone()
    other[1] = brightness_data.read("test", brightness_data.rows("test", "drug@10")[:1])[0]
    first = wplus.project(images, "DMSO")
    second = wplus.project(other, "DMSO")
    torch.testing.assert_close(first.latents[0], second.latents[0], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(first.latents[1], second.latents[1])
    # W+ really uses its freedom: the layers' latents have moved apart from their common start.
    assert (first.latents[0] - first.latents[0].mean(dim=0)).abs().max() > 1e-3
