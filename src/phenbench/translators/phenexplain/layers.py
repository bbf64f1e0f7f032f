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


_FIR_TAPS = torch.tensor([1.0, 3.0, 3.0, 1.0])


def _fir_kernel(channels: int, like: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """StyleGAN2's [1, 3, 3, 1] low-pass filter, 4 x 4, summing to `gain`, one copy per channel."""
    kernel = torch.outer(_FIR_TAPS, _FIR_TAPS)
    kernel = (kernel * (gain / kernel.sum())).to(like)
    return kernel.expand(channels, 1, 4, 4)


def fir_filter(x: torch.Tensor, pad: tuple[int, int], gain: float = 1.0) -> torch.Tensor:
    """The low-pass filter after zero padding (before, after) on both axes: size + sum(pad) - 3."""
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    return F.conv2d(x, _fir_kernel(x.shape[1], x, gain), groups=x.shape[1])


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """Halve the size: the low-pass filter, keeping every second pixel (anti-aliased, not pooling)."""
    return F.conv2d(x, _fir_kernel(x.shape[1], x), stride=2, padding=1, groups=x.shape[1])


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Double the size: zeros inserted between pixels, then the low-pass filter with gain 4.

    One transposed convolution does both; the borders are zero-padded as in StyleGAN2's
    `upsample2d` (not replicated, as bilinear interpolation would).
    """
    return F.conv_transpose2d(x, _fir_kernel(x.shape[1], x, gain=4.0), stride=2, padding=1, groups=x.shape[1])


def conv3x3_up2x(x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """A 3 x 3 convolution of the 2x up-sampled input, computed as StyleGAN2 does.

    Equal to inserting zeros between pixels, filtering (gain 4) and convolving with `weight`
    (out x in/groups x 3 x 3, as for conv2d), but the convolution runs as a stride-2 transposed
    convolution at the input's resolution (a quarter of the multiplications) and the filter after it.
    """
    out_channels, in_channels, k, _ = weight.shape
    # conv_transpose2d wants in x out/groups x k x k, and flips the kernel: undo that, so that
    # `weight` means the same as in conv2d.
    transposed = weight.reshape(groups, out_channels // groups, in_channels, k, k).transpose(1, 2)
    transposed = transposed.reshape(groups * in_channels, out_channels // groups, k, k).flip([2, 3])
    x = F.conv_transpose2d(x, transposed, stride=2, groups=groups)  # 2 size + 1
    return fir_filter(x, (1, 1), gain=4.0)


def conv_down2x(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A k x k convolution with 2x down-sampling as StyleGAN2 does: filter first, then a stride-2
    convolution (the bias added after it), not a full-resolution convolution filtered afterwards."""
    k = weight.shape[-1]
    if k == 1:  # 1 x 1: down-sample first, then convolve the quarter of the pixels
        return F.conv2d(downsample2x(x), weight, bias)
    pad = k // 2 + 1  # k // 2 for the convolution, 1 for the filter: 3 x 3 -> (2, 2)
    return F.conv2d(fir_filter(x, (pad, pad)), weight, bias, stride=2)


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
        weight = self.weight * self.weight_gain
        if self.down:
            x = conv_down2x(x, weight, self.bias)
        else:
            x = F.conv2d(x, weight, self.bias, padding=self.padding)
        return lrelu(x) if self.activation else x


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    up: bool = False,
    fused: bool = True,
) -> torch.Tensor:
    """Convolve each image with the shared weight scaled by its own styles (optionally 2x up).

    Demodulation rescales each output channel's weight to unit norm, which replaces StyleGAN's
    AdaIN without its droplet artefacts. `fused` builds one weight per image and runs a grouped
    convolution (inference, projection); otherwise the styles scale the input and the
    demodulation coefficients the output of one ordinary convolution with the shared weight, the
    same result computed the way StyleGAN2 trains (much faster on GPUs).
    """
    n, in_channels, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)  # N x O x I x k x k
    coefficients = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # N x O
    if not fused:
        x = x * styles.reshape(n, in_channels, 1, 1)
        x = conv3x3_up2x(x, weight) if up else F.conv2d(x, weight, padding=k // 2)
        return x * coefficients.reshape(n, out_channels, 1, 1) if demodulate else x
    if demodulate:
        w = w * coefficients.reshape(n, out_channels, 1, 1, 1)
    x = x.reshape(1, n * in_channels, height, width)
    w = w.reshape(n * out_channels, in_channels, k, k)
    x = conv3x3_up2x(x, w, groups=n) if up else F.conv2d(x, w, padding=k // 2, groups=n)
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
