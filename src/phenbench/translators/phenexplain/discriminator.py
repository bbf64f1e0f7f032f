"""The StyleGAN2 discriminator with projection conditioning (Miyato & Koyama, 2018).

The condition enters only at the end: the score is the inner product of the image features with a
vector mapped from the condition, as in StyleGAN2-ADA's conditional discriminator.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from phenbench.translators.phenexplain.generator import MappingNetwork
from phenbench.translators.phenexplain.layers import Conv2dLayer, FullyConnected, MinibatchStd, downsample2x


class DiscriminatorBlock(nn.Module):
    """Two 3 x 3 convolutions and a 2x down-sampling; `resnet` adds a 1 x 1 shortcut, `skip` an image input."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, image_channels: int, architecture: str):
        super().__init__()
        self.architecture = architecture
        self.from_image = (
            Conv2dLayer(image_channels, mid_channels, 1) if in_channels == 0 or architecture == "skip" else None
        )
        self.conv0 = Conv2dLayer(mid_channels, mid_channels, 3)
        self.conv1 = Conv2dLayer(mid_channels, out_channels, 3, down=True)
        if architecture == "resnet":
            self.skip = Conv2dLayer(mid_channels, out_channels, 1, activation=False, down=True, bias=False)

    def forward(self, x: torch.Tensor | None, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.from_image is not None:
            y = self.from_image(image)
            x = y if x is None else x + y
            # Only the skip architecture reads the image again at the next resolution.
            image = downsample2x(image) if self.architecture == "skip" else image
        if self.architecture == "resnet":
            shortcut = self.skip(x)
            x = (self.conv1(self.conv0(x)) + shortcut) * math.sqrt(0.5)
        else:
            x = self.conv1(self.conv0(x))
        return x, image


class Discriminator(nn.Module):
    """Images and conditions -> one logit per image (higher: more real for that condition)."""

    def __init__(
        self, num_conditions: int, resolution: int, image_channels: int, channels: dict[int, int],
        architecture: str, mbstd_group_size: int, mapping_layers: int,
    ):
        super().__init__()
        self.blocks = nn.ModuleList()
        res = resolution
        first = True
        while res > 4:
            self.blocks.append(DiscriminatorBlock(
                0 if first else channels[res], channels[res], channels[res // 2], image_channels, architecture,
            ))
            first, res = False, res // 2
        top = channels[4]
        self.from_image_at_4 = Conv2dLayer(image_channels, top, 1) if architecture == "skip" else None
        self.mbstd = MinibatchStd(mbstd_group_size)
        self.conv = Conv2dLayer(top + 1, top, 3)
        self.fc = FullyConnected(top * 16, top, activation=True)
        self.out = FullyConnected(top, top)
        self.cmap_dim = top
        self.mapping = MappingNetwork(0, num_conditions, top, mapping_layers)

    def forward(self, images: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        x = None
        image = images
        for block in self.blocks:
            x, image = block(x, image)
        if self.from_image_at_4 is not None:
            x = x + self.from_image_at_4(image)
        x = self.conv(self.mbstd(x))
        x = self.out(self.fc(x.flatten(1)))
        cmap = self.mapping(None, conditions)
        # Projection conditioning: the score is a feature-condition inner product.
        return (x * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)
