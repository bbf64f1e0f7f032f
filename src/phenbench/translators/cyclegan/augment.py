"""CycleGAN's training augmentation, as its reference code's default `resize_and_crop` with flips.

The reference resizes each training image to load_size (286) with bicubic interpolation, crops a
random crop_size (256) window and flips it left-right with probability 1/2. Here the images are
already at the model's size S, so they are enlarged to round(load_scale x S) (286 / 256 by
default: the same zoom) and a random S x S window is kept. Bicubic interpolation can overshoot;
values are clipped to [-1, 1], as the reference's 8-bit images are. Flips suit cells: a cell has no
left or right. Draws come from the fit's own generator, so a resumed fit augments the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from phenbench.translators.cyclegan.config import CycleGANConfig


def augment(images: torch.Tensor, config: CycleGANConfig, rng: torch.Generator) -> torch.Tensor:
    """Resize-and-crop (when load_scale > 1), then flip (when horizontal_flip), each image on its own,
    with offsets and flips drawn where `rng` lives (the images' device, in a fit)."""
    n, _, size, _ = images.shape
    enlarged = round(config.load_scale * size)
    if enlarged > size:
        offsets = torch.randint(0, enlarged - size + 1, (n, 2), generator=rng, device=rng.device)
        images = random_crop(resize(images, enlarged), offsets.to(images.device), size)
    if config.horizontal_flip:
        flip = (torch.rand(n, generator=rng, device=rng.device) < 0.5).to(images.device)
        images = torch.where(flip.reshape(n, 1, 1, 1), images.flip(3), images)
    return images


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bicubic resize to size x size, clipped to the [-1, 1] range of the data."""
    return F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)


def random_crop(images: torch.Tensor, offsets: torch.Tensor, size: int) -> torch.Tensor:
    """The size x size window of each image whose top-left corner is offsets[i] = (row, column)."""
    n, channels = images.shape[:2]
    grid = torch.arange(size, device=images.device)
    rows = (offsets[:, 0].reshape(n, 1) + grid).reshape(n, 1, size, 1)
    cols = (offsets[:, 1].reshape(n, 1) + grid).reshape(n, 1, 1, size)
    batch = torch.arange(n, device=images.device).reshape(n, 1, 1, 1)
    channel = torch.arange(channels, device=images.device).reshape(1, channels, 1, 1)
    return images[batch, channel, rows, cols]
