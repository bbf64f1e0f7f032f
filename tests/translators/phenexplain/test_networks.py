"""The StyleGAN2 building blocks against independent references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from phenbench.translators.phenexplain.discriminator import Discriminator
from phenbench.translators.phenexplain.generator import Generator, MappingNetwork
from phenbench.translators.phenexplain.layers import (
    MinibatchStd,
    conv3x3_up2x,
    conv_down2x,
    downsample2x,
    modulated_conv2d,
    upsample2x,
)


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


# --- resampling as StyleGAN2 does it, against a direct zero-insertion / filter / convolution -------


def fir(x: torch.Tensor, before: int, after: int, gain: float = 1.0) -> torch.Tensor:
    """The [1, 3, 3, 1] filter (outer product, sum `gain`) after zero padding, written out directly."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(taps, taps) / 64 * gain
    x = F.pad(x, [before, after, before, after])
    return F.conv2d(x, kernel.expand(x.shape[1], 1, 4, 4), groups=x.shape[1])


def zeros_between(x: torch.Tensor) -> torch.Tensor:
    """2x up-sampling by zero insertion: pixel (i, j) moves to (2i, 2j), every other pixel is 0."""
    n, c, h, w = x.shape
    out = torch.zeros(n, c, 2 * h, 2 * w)
    out[:, :, ::2, ::2] = x
    return out


def test_upsample_is_zero_insertion_then_the_filter_with_gain_4() -> None:
    x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    # stylegan2-ada-pytorch's upsample2d pads (fw + up - 1) // 2 = 2 before and (fw - up) // 2 = 1 after.
    torch.testing.assert_close(upsample2x(x), fir(zeros_between(x), 2, 1, gain=4.0), rtol=1e-5, atol=1e-6)
    # A constant image stays constant away from the (zero-padded) border.
    assert torch.allclose(upsample2x(torch.ones(1, 1, 4, 4))[..., 2:6, 2:6], torch.ones(1, 1, 4, 4))


def test_up_convolution_is_the_fir_upsampled_input_convolved_at_full_resolution() -> None:
    g = torch.Generator().manual_seed(1)
    x, weight = torch.randn(2, 3, 5, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    # conv2d_resample(up=2, padding=1): pad 1 + 2 before and 1 + 1 after the zero-inserted input,
    # filter (gain 4), then a valid 3 x 3 convolution. The transposed convolution computes the same.
    expected = F.conv2d(fir(zeros_between(x), 3, 2, gain=4.0), weight)
    torch.testing.assert_close(conv3x3_up2x(x, weight), expected, rtol=1e-5, atol=1e-5)
    assert expected.shape == (2, 4, 10, 10)


def test_down_convolution_filters_first_then_convolves_with_stride_2() -> None:
    g = torch.Generator().manual_seed(2)
    x, weight, bias = torch.randn(2, 3, 8, 8, generator=g), torch.randn(4, 3, 3, 3, generator=g), torch.randn(4, generator=g)
    expected = F.conv2d(fir(x, 2, 2), weight, bias, stride=2)  # conv2d_resample(down=2, padding=1)
    torch.testing.assert_close(conv_down2x(x, weight, bias), expected, rtol=1e-5, atol=1e-5)
    one = torch.randn(4, 3, 1, 1, generator=g)  # 1 x 1: down-sample (pad 1, 1), then convolve
    torch.testing.assert_close(conv_down2x(x, one), F.conv2d(fir(x, 1, 1)[..., ::2, ::2], one), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("up", [False, True])
def test_unfused_modulation_computes_the_fused_result(up: bool) -> None:
    g = torch.Generator().manual_seed(3)
    x, weight, styles = torch.randn(3, 4, 6, 6, generator=g), torch.randn(5, 4, 3, 3, generator=g), torch.rand(3, 4, generator=g) + 0.5
    fused = modulated_conv2d(x, weight, styles, up=up, fused=True)
    for i in range(3):  # per image: the weight scaled by the styles, each output channel at unit norm
        w = weight * styles[i].reshape(1, 4, 1, 1)
        w = w / w.square().sum(dim=[1, 2, 3], keepdim=True).sqrt()
        single = conv3x3_up2x(x[i : i + 1], w) if up else F.conv2d(x[i : i + 1], w, padding=1)
        torch.testing.assert_close(fused[i : i + 1], single, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(modulated_conv2d(x, weight, styles, up=up, fused=False), fused, rtol=1e-4, atol=1e-5)


def test_the_generator_trains_unfused_and_renders_fused_alike() -> None:
    torch.manual_seed(0)
    generator = Generator(8, 8, 3, 2, 16, 2, channels_for(16), "skip")
    ws = generator.ws(torch.randn(2, 8), torch.tensor([0, 2]))
    noise = generator.synthesis.make_noise(2, torch.Generator().manual_seed(0))
    trained, rendered = generator.train().synthesis(ws, noise=noise), generator.eval().synthesis(ws, noise=noise)
    torch.testing.assert_close(trained, rendered, rtol=1e-4, atol=1e-5)
