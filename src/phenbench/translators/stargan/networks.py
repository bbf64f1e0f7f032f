"""StarGAN's generator and discriminator, as in Choi et al. (2018), for any channel count and size.

Generator: a 7 x 7 convolution, two stride-2 down-samplings, residual blocks, two transposed-conv
up-samplings and a 7 x 7 convolution to `channels` with tanh; instance norm with affine parameters.
The target condition enters as a one-hot map concatenated to the input channels.

Discriminator: a PatchGAN of stride-2 4 x 4 convolutions with LeakyReLU(0.01), no normalisation
(WGAN-GP), and two heads: a 3 x 3 convolution giving a real/fake score map, and a convolution
covering the whole final map giving condition logits.

Instance norms do not track running statistics: the reference code never switches to eval mode, so
its networks always normalise with the statistics of the image at hand, as these do.
"""

from __future__ import annotations

import torch
from torch import nn

from phenbench.core.errors import ConfigError


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """G(x, c): images of any condition to the target condition c (one-hot)."""

    def __init__(self, channels: int, num_conditions: int, filters: int, residual_blocks: int):
        super().__init__()
        self.num_conditions = num_conditions
        layers: list[nn.Module] = [
            nn.Conv2d(channels + num_conditions, filters, 7, 1, 3, bias=False),
            nn.InstanceNorm2d(filters, affine=True),
            nn.ReLU(inplace=True),
        ]
        width = filters
        for _ in range(2):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(width * 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(residual_blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(width // 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.Conv2d(width, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        one_hot = nn.functional.one_hot(target, self.num_conditions).to(images.dtype)
        maps = one_hot[:, :, None, None].expand(-1, -1, images.shape[2], images.shape[3])
        return self.body(torch.cat([images, maps], dim=1))


class Discriminator(nn.Module):
    """D(x) -> (real/fake score map, condition logits)."""

    def __init__(self, channels: int, num_conditions: int, image_size: int, filters: int, layers: int):
        super().__init__()
        body: list[nn.Module] = [nn.Conv2d(channels, filters, 4, 2, 1), nn.LeakyReLU(0.01)]
        width = filters
        for _ in range(1, layers):
            body += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            width *= 2
        self.body = nn.Sequential(*body)
        final_size = image_size // 2**layers
        self.adversarial = nn.Conv2d(width, 1, 3, 1, 1, bias=False)
        self.classifier = nn.Conv2d(width, num_conditions, final_size, bias=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(images)
        return self.adversarial(features), self.classifier(features).flatten(1)


def discriminator_depth(image_size: int, wanted: int) -> int:
    """The paper's depth, reduced so the final map is at least 2 x 2 (6 layers at 128 px)."""
    depth = min(wanted, max(1, image_size.bit_length() - 2))
    return depth


def check_image_size(image_size: int) -> None:
    """Two stride-2 down-samplings and a stride-2 discriminator need sizes divisible by 4."""
    if image_size < 8 or image_size % 4:
        raise ConfigError(
            f"StarGAN needs images of at least 8 x 8 with a side divisible by 4, got {image_size} x {image_size}. "
            "Resize or crop the data set."
        )
