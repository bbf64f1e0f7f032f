"""The conditional StyleGAN2 generator: a mapping network (z, condition) -> w and a synthesis network.

The synthesis network sees the condition only through w, which is what makes Phenexplain's
latent walks possible: a condition change is a move in W.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from phenbench.translators.phenexplain.layers import (
    Conv2dLayer,
    FullyConnected,
    lrelu,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample2x,
)


class MappingNetwork(nn.Module):
    """(z, condition) -> w: z and a learned embedding of the condition, each normalised, concatenated.

    With `z_dim = 0` it maps the condition alone (the discriminator's projection vector).
    """

    def __init__(self, z_dim: int, num_conditions: int, w_dim: int, num_layers: int, lr_multiplier: float = 0.01):
        super().__init__()
        self.z_dim, self.num_conditions, self.w_dim = z_dim, num_conditions, w_dim
        # A linear map of a one-hot vector is a learned embedding table (as in StyleGAN2-ADA).
        self.embed = FullyConnected(num_conditions, w_dim)
        features = [z_dim + w_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            FullyConnected(a, b, activation=True, lr_multiplier=lr_multiplier)
            for a, b in zip(features[:-1], features[1:])
        )

    def forward(self, z: torch.Tensor | None, conditions: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(conditions.long(), self.num_conditions).to(self.embed.weight.dtype)
        x = normalize_2nd_moment(self.embed(one_hot))
        if self.z_dim:
            x = torch.cat([normalize_2nd_moment(z), x], dim=1)
        for layer in self.layers:
            x = layer(x)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3 x 3 convolution (optionally with 2x up-sampling), per-pixel noise, bias, lrelu.

    In training mode the modulation runs unfused (as StyleGAN2 trains), in eval mode fused (one
    weight per image): the same function, computed two ways.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.resolution, self.up = resolution, up
        self.weight_gain = 1 / math.sqrt(in_channels * 9)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight * self.weight_gain, self.affine(w), up=self.up, fused=not self.training)
        x = x + noise * self.noise_strength
        return lrelu(x + self.bias.reshape(1, -1, 1, 1))


class ToImage(nn.Module):
    """Modulated 1 x 1 convolution to the image's channels, without demodulation (StyleGAN2's toRGB)."""

    def __init__(self, in_channels: int, image_channels: int, w_dim: int):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(image_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(image_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False,
                             fused=not self.training)
        return x + self.bias.reshape(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution: two synthesis layers (one at 4 x 4, from a learned constant) and an image output."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, image_channels: int,
        architecture: str, is_last: bool,
    ):
        super().__init__()
        self.first = in_channels == 0
        self.architecture = architecture
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.convs = nn.ModuleList([SynthesisLayer(out_channels, out_channels, w_dim, resolution)])
        else:
            self.convs = nn.ModuleList([
                SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True),
                SynthesisLayer(out_channels, out_channels, w_dim, resolution),
            ])
            if architecture == "resnet":
                self.skip = Conv2dLayer(in_channels, out_channels, 1, activation=False, bias=False)
        self.has_image_output = is_last or architecture == "skip"
        self.to_image = ToImage(out_channels, image_channels, w_dim) if self.has_image_output else None

    @property
    def num_ws(self) -> int:
        """The w vectors this block reads: one per conv, plus the image output's (shared with the next)."""
        return len(self.convs) + int(self.has_image_output)

    def forward(
        self, x: torch.Tensor | None, image: torch.Tensor | None, ws: torch.Tensor, noise: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.convs[0](x, ws[:, 0], noise[0])
        elif self.architecture == "resnet":
            shortcut = upsample2x(self.skip(x))
            x = self.convs[0](x, ws[:, 0], noise[0])
            x = (self.convs[1](x, ws[:, 1], noise[1]) + shortcut) * math.sqrt(0.5)
        else:
            x = self.convs[0](x, ws[:, 0], noise[0])
            x = self.convs[1](x, ws[:, 1], noise[1])
        if image is not None:
            image = upsample2x(image)
        if self.to_image is not None:
            out = self.to_image(x, ws[:, len(self.convs)])
            image = out if image is None else image + out
        return x, image


class SynthesisNetwork(nn.Module):
    """ws (N x num_ws x w_dim) and per-layer noise -> images, 4 x 4 doubling up to the resolution."""

    def __init__(
        self, w_dim: int, resolution: int, image_channels: int, channels: dict[int, int], architecture: str
    ):
        super().__init__()
        self.resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        self.blocks = nn.ModuleList()
        for res in self.resolutions:
            in_channels = 0 if res == 4 else channels[res // 2]
            self.blocks.append(SynthesisBlock(
                in_channels, channels[res], w_dim, res, image_channels, architecture,
                is_last=res == resolution,
            ))
        # Consecutive blocks share a w: block k's image output and block k+1's first conv.
        self.num_ws = sum(len(b.convs) for b in self.blocks) + 1

    def noise_resolutions(self) -> list[int]:
        """The size of every per-layer noise input, in order."""
        return [layer.resolution for block in self.blocks for layer in block.convs]

    def make_noise(self, n: int, generator: torch.Generator | None = None, device=None) -> list[torch.Tensor]:
        # Drawn where the generator lives (a CPU generator keeps runs reproducible on any device).
        where = generator.device if generator is not None else device
        return [torch.randn(n, 1, r, r, generator=generator, device=where).to(device) for r in self.noise_resolutions()]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        if noise is None:
            noise = self.make_noise(ws.shape[0], generator, ws.device)
        x = image = None
        w_index = noise_index = 0
        for block in self.blocks:
            count = len(block.convs)
            x, image = block(x, image, ws[:, w_index : w_index + block.num_ws], noise[noise_index : noise_index + count])
            w_index += count
            noise_index += count
        return image


class Generator(nn.Module):
    """The conditional StyleGAN2 generator, with style mixing available for training."""

    def __init__(
        self, z_dim: int, w_dim: int, num_conditions: int, mapping_layers: int, resolution: int,
        image_channels: int, channels: dict[int, int], architecture: str,
    ):
        super().__init__()
        self.z_dim, self.w_dim, self.num_conditions = z_dim, w_dim, num_conditions
        self.synthesis = SynthesisNetwork(w_dim, resolution, image_channels, channels, architecture)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, num_conditions, w_dim, mapping_layers)

    def ws(self, z: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        """The same w broadcast to every layer: N x num_ws x w_dim."""
        return self.mapping(z, conditions).unsqueeze(1).repeat(1, self.num_ws, 1)

    def forward(self, z: torch.Tensor, conditions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.synthesis(self.ws(z, conditions), generator=generator)
