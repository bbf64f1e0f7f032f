"""StyleGAN2 building blocks: equalised-learning-rate layers, modulated convolution, resampling.

Weights are stored at unit variance and scaled at run time ("equalised learning rate"), so that
Adam's per-parameter step sizes act alike on every layer, as in Karras et al. (2020).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)  # keeps activations at unit variance after leaky ReLU(0.2)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit mean square: z and the condition embedding enter the mapping alike."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnected(nn.Module):
    """A linear layer with equalised learning rate and an optional learning-rate multiplier."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: bool = False,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


_BLUR_TAPS = torch.tensor([1.0, 3.0, 3.0, 1.0])


def _blur_kernel(channels: int, like: torch.Tensor) -> torch.Tensor:
    kernel = torch.outer(_BLUR_TAPS, _BLUR_TAPS)
    kernel = (kernel / kernel.sum()).to(like)
    return kernel.expand(channels, 1, 4, 4)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """Halve the size with StyleGAN2's [1, 3, 3, 1] low-pass filter (anti-aliased, not plain pooling)."""
    return F.conv2d(x, _blur_kernel(x.shape[1], x), stride=2, padding=1, groups=x.shape[1])


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Double the size. Bilinear up-sampling is the [1, 3, 3, 1] FIR up-sampler away from the borders."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class Conv2dLayer(nn.Module):
    """A convolution with equalised learning rate, optional 2x down-sampling and leaky ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        activation: bool = True,
        down: bool = False,
        bias: bool = True,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.activation, self.down, self.padding = activation, down, kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        if self.down:
            x = downsample2x(x)
        return lrelu(x) if self.activation else x


def modulated_conv2d(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True
) -> torch.Tensor:
    """Convolve each image with the shared weight scaled by its own styles (one group per image).

    Demodulation rescales each output channel's weight to unit norm, which replaces StyleGAN's
    AdaIN without its droplet artefacts.
    """
    n, in_channels, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    x = F.conv2d(
        x.reshape(1, n * in_channels, height, width),
        w.reshape(n * out_channels, in_channels, k, k),
        padding=k // 2,
        groups=n,
    )
    return x.reshape(n, out_channels, *x.shape[2:])


class MinibatchStd(nn.Module):
    """Append the standard deviation across groups of images: lets D see a lack of variety."""

    def __init__(self, group_size: int):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n)
        while n % group:  # the largest group size that divides the batch
            group -= 1
        y = x.reshape(group, -1, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[1, 2, 3])
        y = y.reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y], dim=1)
