"""The fixed projection of C-channel microscopy images to the 3-channel uint8 images Inception reads.

Inception (and torch-fidelity's extractors) take RGB. Our images have 1 to 6 channels, so every
method's images go through the same fixed, documented map before feature extraction:

- 1 channel: repeated into R, G and B (a grey image).
- 2 channels: R = channel 0, G = channel 1, B = their mean.
- 3 channels: R, G, B = channels 0, 1, 2 unchanged.
- C > 3 channels: channel k gets the colour of hue k / C on the colour wheel (the usual
  false-colour composite of microscopy viewers); each output colour is the weighted sum of the
  channels, with weights normalised so that every output stays in [0, 1].

The map is linear and the same for every method and every run, so distances between methods are
comparable; it is not learned and has no parameters to tune.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch


def projection_matrix(channels: int) -> np.ndarray:
    """The 3 x C matrix that maps C channels in [0, 1] to RGB in [0, 1]."""
    if channels < 1:
        raise ValueError(f"images need at least one channel, got {channels}")
    if channels == 1:
        return np.ones((3, 1))
    if channels == 2:
        return np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    if channels == 3:
        return np.eye(3)
    colours = np.array([colorsys.hsv_to_rgb(k / channels, 1.0, 1.0) for k in range(channels)]).T  # 3 x C
    return colours / colours.sum(axis=1, keepdims=True)


def to_rgb_uint8(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W in [-1, 1] -> N x 3 x H x W uint8 in [0, 255], by the fixed projection."""
    if images.ndim != 4:
        raise ValueError(f"images must be N x C x H x W, got shape {tuple(images.shape)}")
    unit = ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)
    matrix = torch.as_tensor(projection_matrix(unit.shape[1]), dtype=torch.float32)
    rgb = torch.einsum("rc,nchw->nrhw", matrix, unit).clamp(0.0, 1.0)
    return (rgb * 255.0).round().to(torch.uint8)
