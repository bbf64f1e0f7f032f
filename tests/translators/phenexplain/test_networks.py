"""The StyleGAN2 building blocks against independent references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from phenbench.translators.phenexplain.discriminator import Discriminator
from phenbench.translators.phenexplain.generator import Generator, MappingNetwork
from phenbench.translators.phenexplain.layers import MinibatchStd, downsample2x, modulated_conv2d


def test_modulated_conv_matches_a_per_image_convolution() -> None:
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.rand(3, 4) + 0.5
    out = modulated_conv2d(x, weight, styles)
    for i in range(3):
        w = weight * styles[i].reshape(1, 4, 1, 1)
        w = w / w.square().sum(dim=[1, 2, 3], keepdim=True).sqrt()  # demodulation: unit norm per output
        torch.testing.assert_close(out[i : i + 1], F.conv2d(x[i : i + 1], w, padding=1), rtol=1e-4, atol=1e-5)
    plain = modulated_conv2d(x, weight, styles, demodulate=False)
    torch.testing.assert_close(plain[1:2], F.conv2d(x[1:2], weight * styles[1].reshape(1, 4, 1, 1), padding=1),
                               rtol=1e-4, atol=1e-5)


def channels_for(resolution: int) -> dict[int, int]:
    return {2**i: max(4, 64 // 2**i) for i in range(2, resolution.bit_length())}


@pytest.mark.parametrize("architecture", ["skip", "resnet"])
@pytest.mark.parametrize("image_channels", [1, 6])
def test_generator_shapes_any_channel_count(architecture: str, image_channels: int) -> None:
    torch.manual_seed(0)
    generator = Generator(8, 8, 3, 2, 32, image_channels, channels_for(32), architecture)
    # 4 x 4 has one conv, each of the 3 doublings to 32 two: 7 convs, plus the last image output
    # (StyleGAN2's 2 * log2(res) - 2).
    assert generator.num_ws == 8
    assert generator.synthesis.noise_resolutions() == [4, 8, 8, 16, 16, 32, 32]
    images = generator(torch.randn(2, 8), torch.tensor([0, 2]), generator=torch.Generator().manual_seed(1))
    assert images.shape == (2, image_channels, 32, 32) and torch.isfinite(images).all()


@pytest.mark.parametrize("architecture", ["skip", "resnet"])
def test_discriminator_scores_depend_on_the_condition(architecture: str) -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(3, 16, 5, channels_for(16), architecture, mbstd_group_size=2, mapping_layers=1)
    images = torch.randn(4, 5, 16, 16)
    scores = discriminator(images, torch.tensor([0, 0, 1, 1]))
    assert scores.shape == (4,)
    other = discriminator(images, torch.tensor([2, 2, 2, 2]))
    assert not torch.allclose(scores, other)  # projection conditioning: the condition changes the score


def test_mapping_normalises_z_and_the_embedding() -> None:
    torch.manual_seed(0)
    mapping = MappingNetwork(8, 3, 8, 2)
    z, c = torch.randn(4, 8), torch.tensor([0, 1, 2, 1])
    # z enters normalised to unit mean square, so its scale is irrelevant; the condition is not.
    torch.testing.assert_close(mapping(z, c), mapping(5.0 * z, c), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(mapping(z, c), mapping(z, torch.tensor([2, 2, 2, 2])))


def test_minibatch_std_is_zero_for_identical_images() -> None:
    same = torch.randn(1, 3, 4, 4).repeat(4, 1, 1, 1)
    out = MinibatchStd(group_size=4)(same)
    assert out.shape == (4, 4, 4, 4)
    assert out[:, 3].abs().max() < 1e-3  # sqrt(1e-8) guard only
    varied = MinibatchStd(group_size=4)(torch.randn(4, 3, 4, 4))
    assert varied[:, 3].min() > 0.3


def test_downsample_keeps_a_constant_interior_and_halves_the_size() -> None:
    image = torch.full((1, 2, 8, 8), 0.5)
    out = downsample2x(image)
    assert out.shape == (1, 2, 4, 4)
    torch.testing.assert_close(out[..., 1:3, 1:3], torch.full((1, 2, 2, 2), 0.5))
