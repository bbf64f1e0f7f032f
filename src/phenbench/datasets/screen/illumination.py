"""Per-plate illumination correction: divide each field by the plate's smooth mean image.

Wide-field images are brighter in the middle than at the corners. Averaging every field of a plate
washes out the cells and leaves this uneven illumination; heavily smoothed and scaled to mean 1, it
is the flat field that each field of the plate is divided by (the approach of CellProfiler's
CorrectIlluminationCalculate with "Regular" averaging and Gaussian smoothing).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.transform import downscale_local_mean, resize

DOWNSCALE = 8  # averaging works at 1/8 resolution: the flat field is smooth, and memory stays small


def downscaled(field: np.ndarray) -> np.ndarray:
    """C x H x W -> C x H/8 x W/8 float64 block means: what one field adds to the plate's average."""
    return downscale_local_mean(field.astype(np.float64), (1, DOWNSCALE, DOWNSCALE))


def flat_field(mean_small: np.ndarray, full_shape: tuple[int, int], sigma_fraction: float = 0.05) -> np.ndarray:
    """The plate's flat field (C x H x W float32, mean 1 per channel) from its averaged small fields."""
    sigma = sigma_fraction * max(mean_small.shape[1:])
    smooth = np.stack([ndi.gaussian_filter(channel, sigma, mode="nearest") for channel in mean_small])
    full = resize(smooth, (smooth.shape[0], *full_shape), order=1, mode="edge", anti_aliasing=False)
    full /= full.mean(axis=(1, 2), keepdims=True)
    return np.maximum(full, 1e-3).astype(np.float32)


def correct(field: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Divide a field by its plate's flat field, keeping its dtype (clipped to the dtype's range)."""
    corrected = field.astype(np.float32) / flat
    if np.issubdtype(field.dtype, np.integer):
        info = np.iinfo(field.dtype)
        corrected = np.clip(np.rint(corrected), info.min, info.max)
    return corrected.astype(field.dtype)
