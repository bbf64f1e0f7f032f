"""Intensity normalisation to [-1, 1], robust to outliers, and its inverse.

Raw microscopy intensities differ between plates (staining, exposure), and a few saturated pixels
would squash everything else if the range were min..max. So each channel is mapped linearly from
a low percentile to a high percentile of a reference population, then clipped:

    normalised = clip(2 * (raw - low) / (high - low) - 1, -1, 1)

References ("method"):
- `plate`:   all crops of the image's own plate (removes plate-to-plate intensity drift),
- `dmso`:    the DMSO crops of the image's own plate (a treatment's brightening stays visible as a
             shift against the plate's own control; a compound that brightens every cell does not
             get normalised away, which `plate` partly does),
- `global`:  all crops of the cache together (keeps plate effects),
- `fixed`:   the storage dtype's full range (0..255 for 8-bit, 0..65535 for 16-bit, 0..1 for float):
             for sets that are already normalised, such as PNG exports.

The low/high values are kept (`IntensityScale`), so `denormalize` maps images back to raw
intensities (exactly, for values that were not clipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.h5cache import GLOBAL_GROUP, PERCENTILES, CacheReader

METHODS = ("plate", "dmso", "global", "fixed")


@dataclass(frozen=True)
class IntensityScale:
    """Per-group, per-channel low and high raw intensities that map to -1 and +1."""

    groups: tuple[str, ...]
    low: np.ndarray  # groups x C
    high: np.ndarray  # groups x C

    def group_index(self, plates: Sequence[str]) -> np.ndarray:
        lookup = {g: i for i, g in enumerate(self.groups)}
        if len(self.groups) == 1:  # one scale for all (global, fixed)
            return np.zeros(len(plates), dtype=np.int64)
        try:
            return np.array([lookup[str(p)] for p in plates], dtype=np.int64)
        except KeyError as exc:
            raise DataError(f"No intensity scale for plate {exc.args[0]!r}; prepare the cache again.") from None

    def normalize(self, raw: np.ndarray, plates: Sequence[str]) -> torch.Tensor:
        """Raw N x C x H x W -> float32 in [-1, 1]."""
        index = self.group_index(plates)
        low = self.low[index][:, :, None, None]
        span = (self.high - self.low)[index][:, :, None, None]
        out = 2.0 * (raw.astype(np.float32) - low) / span - 1.0
        return torch.from_numpy(np.clip(out, -1.0, 1.0).astype(np.float32, copy=False))

    def denormalize(self, images: torch.Tensor, plates: Sequence[str]) -> np.ndarray:
        """Images in [-1, 1] -> raw intensities (float32), the inverse of `normalize`."""
        index = self.group_index(plates)
        low = self.low[index][:, :, None, None]
        span = (self.high - self.low)[index][:, :, None, None]
        values = images.detach().cpu().numpy().astype(np.float32)
        return ((values + 1.0) / 2.0 * span + low).astype(np.float32)

    def to_dict(self) -> dict:
        return {"groups": list(self.groups), "low": self.low.tolist(), "high": self.high.tolist()}


def intensity_scale(reader: CacheReader, method: str, low_percentile: float, high_percentile: float) -> IntensityScale:
    """The scale that `method` and the two percentiles give for the crops of `reader`."""
    if method not in METHODS:
        raise ConfigError(f"Unknown normalization {method!r}; choose one of {', '.join(METHODS)}.")
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ConfigError(
            f"Percentiles must satisfy 0 <= low < high <= 100, got {low_percentile} and {high_percentile}."
        )
    c = len(reader.channels)
    if method == "fixed":
        if np.issubdtype(reader.dtype, np.integer):
            top = float(np.iinfo(reader.dtype).max)
        else:
            top = 1.0
        return IntensityScale(("*",), np.zeros((1, c), np.float32), np.full((1, c), top, np.float32))

    groups = reader.intensity_groups
    if method == "global":
        chosen = [groups.index(GLOBAL_GROUP)]
        table = reader.intensity["all"]
    else:
        chosen = [i for i, g in enumerate(groups) if g != GLOBAL_GROUP]
        table = reader.intensity["control" if method == "dmso" else "all"]
    low = _interpolate(table[chosen], low_percentile)
    high = _interpolate(table[chosen], high_percentile)
    if np.isnan(low).any():
        missing = [groups[chosen[i]] for i in np.flatnonzero(np.isnan(low).any(axis=1))]
        raise DataError(
            f"Plate(s) {', '.join(missing)} have no DMSO crops to normalise against; "
            "use normalization 'plate' or include the plate's DMSO wells."
        )
    # A constant channel would divide by zero: give it a unit span instead.
    high = np.where(high > low, high, low + 1.0)
    names = ("*",) if method == "global" else tuple(groups[i] for i in chosen)
    return IntensityScale(names, low.astype(np.float32), high.astype(np.float32))


def _interpolate(table: np.ndarray, percentile: float) -> np.ndarray:
    """groups x C x len(PERCENTILES) -> groups x C at `percentile` (linear between grid points)."""
    position = np.interp(percentile, PERCENTILES, np.arange(len(PERCENTILES)))
    lower = int(np.floor(position))
    upper = min(lower + 1, len(PERCENTILES) - 1)
    weight = position - lower
    return (1.0 - weight) * table[..., lower] + weight * table[..., upper]
