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
    assert sorted(results) == [1, 2] and len(w._projections) == 4  # each image projected once
    assert results[2].images.mean() > results[1].images.mean()  # drug@10 brighter than drug@1
    total = results[1].seconds + results[2].seconds
    assert total >= w.last_projection.seconds  # each carries a share of the projection time
    torch.testing.assert_close(w.reconstruct(images, 0).images, w.translate(images, 0, 0).images)


def test_condition_centres_map_the_same_z_under_every_condition(trained_pair) -> None:
    w, _, _ = trained_pair
    centres, spreads = condition_centres(w.G_ema, samples=300, seed=4, batch_size=128)
    z = torch.cat([chunk for chunk in torch.randn(300, 16, generator=torch.Generator().manual_seed(4)).split(128)])
    with torch.no_grad():
        for c in range(3):
            ws = w.G_ema.mapping(z, torch.full((300,), c))
            torch.testing.assert_close(centres[c], ws.mean(dim=0), rtol=1e-4, atol=1e-5)
            assert spreads[c] == pytest.approx(math.sqrt((ws - ws.mean(0)).square().sum(1).mean()), rel=1e-4)


class AdditiveMapping(torch.nn.Module):
    """w = z A + e_c: the part of w that z drives is the same under every condition."""

    def __init__(self):
        super().__init__()
        self.num_conditions, self.z_dim, self.w_dim = 3, 4, 2
        self.a = torch.nn.Parameter(torch.randn(4, 2, generator=torch.Generator().manual_seed(0)))
        self.e = torch.nn.Parameter(torch.tensor([[0.0, 0.0], [1.0, -2.0], [0.5, 3.0]]))

    def mapping(self, z: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        return z @ self.a + self.e[conditions]


def test_a_shift_between_centres_carries_no_sampling_noise_of_z() -> None:
    """With the same z under every condition, z cancels in a difference of centres (w = z A + e_c)."""
    centres, spreads = condition_centres(AdditiveMapping(), samples=50, seed=1, batch_size=16)
    torch.testing.assert_close(centres[1] - centres[0], torch.tensor([1.0, -2.0]), rtol=0, atol=1e-5)
    torch.testing.assert_close(centres[2] - centres[1], torch.tensor([-0.5, 5.0]), rtol=0, atol=1e-5)
    assert spreads[0] == pytest.approx(spreads[1].item(), rel=1e-5)  # the spread is z's alone, in every condition


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
    with pytest.raises(MissingWeightsError, match="perceptual_weight: 0, mse_weight: 1"):
        translator.invert(dmso_images(brightness_data, 2), "DMSO")
    with pytest.raises(MissingWeightsError, match="nothing downloads"):  # before training, not after it
        translator.fit(brightness_data)
    missing = PhenexWTranslator(small_config(perceptual_weight=1.0, vgg16_weights=str(tmp_path / "no.pth")),
                                brightness_data.spec)
    missing.centres, missing.spreads = torch.zeros(3, 16), torch.ones(3)
    with pytest.raises(MissingWeightsError, match="does not exist"):
        missing.invert(dmso_images(brightness_data, 2), "DMSO")


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A torchvision VGG16 state dict with random weights: the real file is not on these machines."""
    from phenbench.core.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from torchvision.models.vgg import cfgs, make_layers

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        features = make_layers(cfgs["D"])
    path = tmp_path_factory.mktemp("vgg") / "vgg16-397923af.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path


def reference_lpips(vgg16_file, monkeypatch):
    """The lpips package's own LPIPS(net="vgg"), its trunk loaded from the same file.

    LPIPS builds a whole torchvision VGG16 (with its 120 M-parameter classifier) before keeping the
    features: that constructor is swapped for one that builds the features alone, which is all it keeps.
    """
    import types

    import lpips
    from torchvision.models.vgg import cfgs, make_layers

    monkeypatch.setattr(lpips.pretrained_networks.tv, "vgg16",
                        lambda **_: types.SimpleNamespace(features=make_layers(cfgs["D"])))
    model = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)
    slices = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
    trunk = {}
    for key, value in torch.load(vgg16_file, weights_only=True).items():  # features.<index>.<weight|bias>
        _, index, name = key.split(".")
        k = next(i for i, (lo, hi) in enumerate(slices, start=1) if lo <= int(index) < hi)
        trunk[f"slice{k}.{index}.{name}"] = value
    model.net.load_state_dict(trunk)  # strict: every layer of the five slices, nothing else
    return model.eval()


def test_lpips_distance_equals_the_lpips_package(vgg16_file, monkeypatch) -> None:
    from phenbench.translators.phenexplain.perceptual import LPIPSDistance

    reference = reference_lpips(vgg16_file, monkeypatch)
    ours = LPIPSDistance(str(vgg16_file))
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    with torch.no_grad():
        expected = reference(a, b).flatten()  # RGB images: LPIPS as the package computes it
        torch.testing.assert_close(ours(a, b), expected, rtol=1e-4, atol=1e-6)
        assert (expected > 0).all() and ours(a, a).abs().max() < 1e-6
        # Two channels: each compared as a grey RGB image, the distances averaged.
        grey = [reference(a[:, c : c + 1].expand(-1, 3, -1, -1), b[:, c : c + 1].expand(-1, 3, -1, -1)).flatten()
                for c in range(2)]
        torch.testing.assert_close(ours(a[:, :2], b[:, :2]), (grey[0] + grey[1]) / 2, rtol=1e-4, atol=1e-6)


def test_projection_computes_the_targets_features_once(trained_pair, brightness_data, vgg16_file) -> None:
    w, _, _ = trained_pair
    translator = PhenexWTranslator(small_config(perceptual_weight=1.0, mse_weight=0.0, vgg16_weights=str(vgg16_file),
                                                projection_steps=3), brightness_data.spec)
    translator.G_ema, translator.centres, translator.spreads = w.G_ema, w.centres, w.spreads
    distance = translator._perceptual_distance()
    calls = []
    features = distance.features
    distance.features = lambda images: calls.append(len(images)) or features(images)
    latents = translator.invert(dmso_images(brightness_data, 2), "DMSO").latents
    assert calls == [2, 2, 2, 2]  # the target's once, then the synthesised images' at each of the 3 steps
    assert torch.isfinite(latents).all()


def test_an_image_projects_the_same_alone_and_anywhere_in_any_batch(trained_pair, brightness_data) -> None:
    """Each image's random draws are its own: no dependence on batch size, position or neighbours."""
    w, wplus, _ = trained_pair
    images = dmso_images(brightness_data, 6)
    steps = 10  # enough for every draw to matter (the latent jitter lasts 75 % of the steps); 50 cost minutes
    for trained in (w, wplus):
        results = {}
        for size in (1, 4, 16):
            translator = type(trained)(small_config(projection_batch_size=size, projection_steps=steps), brightness_data.spec)
            translator.G_ema, translator.centres, translator.spreads = trained.G_ema, trained.centres, trained.spreads
            results[size] = translator.project(images, "DMSO")
        fresh = type(trained)(small_config(projection_steps=steps), brightness_data.spec)
        fresh.G_ema, fresh.centres, fresh.spreads = trained.G_ema, trained.centres, trained.spreads
        alone = fresh.project(images[3:4], "DMSO")  # a fresh translator: nothing cached
        reversed_order = fresh.project(images.flip(0), "DMSO")
        for size in (4, 16):
            # Equal up to float rounding in batched kernels (before: up to 0.98 apart, |w| ~ 3).
            torch.testing.assert_close(results[size].latents, results[1].latents, rtol=0, atol=2e-3)
            torch.testing.assert_close(results[size].mse, results[1].mse, rtol=1e-3, atol=1e-6)
        assert results[16].mse.mean().item() == pytest.approx(results[1].mse.mean().item(), rel=1e-4)
        torch.testing.assert_close(alone.latents[0], results[16].latents[3], rtol=0, atol=2e-3)
        torch.testing.assert_close(reversed_order.latents.flip(0), results[16].latents, rtol=0, atol=2e-3)


def test_projection_draws_depend_on_the_seed_and_on_the_image(trained_pair, brightness_data) -> None:
    w, _, _ = trained_pair
    image = dmso_images(brightness_data, 1)
    results = []
    for seed in (0, 0, 1):
        translator = PhenexWTranslator(small_config(projection_seed=seed, projection_steps=10), brightness_data.spec)
        translator.G_ema, translator.centres, translator.spreads = w.G_ema, w.centres, w.spreads
        results.append(translator.project(image.repeat(2, 1, 1, 1), "DMSO").latents)
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)  # same seed, same result
    torch.testing.assert_close(results[0][0], results[0][1], rtol=0, atol=2e-3)  # one image twice: the same draws
    assert (results[0] - results[2]).abs().max() > 1e-3  # another seed, other draws


def test_w_plus_uses_its_freedom(trained_pair, brightness_data) -> None:
    _, wplus, _ = trained_pair
    latents = wplus.project(dmso_images(brightness_data, 2), "DMSO").latents
    # The layers' latents have moved apart from their common start.
    assert (latents[0] - latents[0].mean(dim=0)).abs().max() > 1e-3
