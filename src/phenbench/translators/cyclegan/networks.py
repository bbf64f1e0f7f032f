"""CycleGAN's ResNet generator and PatchGAN discriminator (Zhu et al., 2017), any channel count.

Generator: reflection-padded 7 x 7 convolution, two stride-2 3 x 3 down-samplings, residual blocks
with reflection padding, two transposed-conv up-samplings, a 7 x 7 convolution and tanh; instance
norm without affine parameters, as in the reference code. Discriminator: the N-layer PatchGAN
(4 x 4 convolutions, LeakyReLU 0.2, instance norm after the first layer) whose 3-layer form is the
paper's 70 x 70 PatchGAN. Weights start from N(0, 0.02), as in the reference code.
"""

from __future__ import annotations

import torch
from torch import nn

from phenbench.core.errors import ConfigError


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Sequential):
    """Maps images of one domain to the other; same channel count in and out."""

    def __init__(self, channels: int, filters: int, residual_blocks: int):
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(channels, filters, 7),
            nn.InstanceNorm2d(filters),
            nn.ReLU(inplace=True),
        ]
        width = filters
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, 2, 1), nn.InstanceNorm2d(width * 2), nn.ReLU(inplace=True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(residual_blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        super().__init__(*layers)


class PatchDiscriminator(nn.Sequential):
    """Scores overlapping patches as real (1) or translated (0): least-squares targets."""

    def __init__(self, channels: int, filters: int, layers: int):
        body: list[nn.Module] = [nn.Conv2d(channels, filters, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        width = filters
        for n in range(1, layers):
            wider = filters * min(2**n, 8)
            body += [nn.Conv2d(width, wider, 4, 2, 1), nn.InstanceNorm2d(wider), nn.LeakyReLU(0.2, inplace=True)]
            width = wider
        wider = filters * min(2**layers, 8)
        body += [
            nn.Conv2d(width, wider, 4, 1, 1),
            nn.InstanceNorm2d(wider),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(wider, 1, 4, 1, 1),
        ]
        super().__init__(*body)


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolution weights and zero biases (the reference code's 'normal' init)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def discriminator_depth(image_size: int, wanted: int) -> int:
    """The paper's depth, reduced so that the two stride-1 4 x 4 convolutions still have a 3 x 3 map."""
    depth = wanted
    while depth > 1 and image_size // 2**depth < 3:
        depth -= 1
    return depth


def check_image_size(image_size: int) -> None:
    """Two stride-2 down-samplings and reflection padding of 3 need sides divisible by 4, at least 8."""
    if image_size < 8 or image_size % 4:
        raise ConfigError(
            f"CycleGAN needs images of at least 8 x 8 with a side divisible by 4, got {image_size} x {image_size}. "
            "Resize or crop the data set."
        )
