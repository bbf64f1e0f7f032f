"""The training preprocessing applied to a user's image, and its inverse for the output.

Forward: raw C x H x W -> normalised to [-1, 1] -> brought to the model's size the way the
training data were (`resize`: antialiased bilinear; `pad`: centre pad/crop, padding -1).
Inverse: model-size [-1, 1] -> back to the input's H x W -> raw intensities in the input's dtype.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from phenbench.apply.io import to_file_dtype
from phenbench.imaging.normalization import Normalization
from phenbench.datasets.cached_dataset import fit_to_size


def to_model(raw: np.ndarray, normalization: Normalization, size: int) -> torch.Tensor:
    """Raw C x H x W -> float32 C x size x size in [-1, 1], as the training data were prepared."""
    images = torch.from_numpy(normalization.normalize(raw))[None]
    return fit_to_size(images, size, normalization.resize)[0]


def to_input_size(images: torch.Tensor, source: torch.Tensor, mode: str) -> torch.Tensor:
    """Model-size C x S x S -> the input's H x W (the shape of `source`, the normalised input).

    `resize` is undone by resizing back. `pad` is undone by cutting the centre back out; where the
    input was larger than the model and its border was cropped away, the border keeps the input's
    own pixels, since the model never saw them.
    """
    h, w = source.shape[-2:]
    s = images.shape[-1]
    if (h, w) == (s, s):
        return images
    if mode == "resize":
        out = F.interpolate(images[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
        return out.clamp_(-1.0, 1.0)
    out = source.clone()
    top, left = (s - h) // 2, (s - w) // 2
    src_top, src_left = max(0, top), max(0, left)
    dst_top, dst_left = max(0, -top), max(0, -left)
    ch, cw = min(h, s), min(w, s)
    out[:, dst_top : dst_top + ch, dst_left : dst_left + cw] = images[
        :, src_top : src_top + ch, src_left : src_left + cw
    ]
    return out


def to_raw(images: torch.Tensor, normalization: Normalization, dtype: np.dtype) -> np.ndarray:
    """[-1, 1] C x H x W -> raw intensities in `dtype` (rounded and clipped for integers)."""
    return to_file_dtype(normalization.denormalize(images.detach().cpu().numpy()), dtype)
