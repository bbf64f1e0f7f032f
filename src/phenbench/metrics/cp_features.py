"""CellProfiler features of images: scikit-image segmentation, cp-measure measurements, a memo.

Each image is one single-cell crop (N x C x H x W in [-1, 1], mapped to [0, 1]). Segmentation:
the nucleus is the Otsu foreground of the smoothed nucleus channel (channel 0 by default), the
object nearest the crop centre; the cell is the watershed region grown from that nucleus over the
Otsu foreground of the channel mean. Measurements (cp-measure, the CellProfiler modules as a
library) on the nucleus and the cell: size and shape; intensity of every channel; Haralick texture
and granularity of every channel on the cell; Pearson correlation of every channel pair on the
cell.

An image holds a *plausible cell* only if the nucleus found is big enough (at least 1% of the
crop), compact (solidity at least 0.6), stands out of its surroundings in the nucleus channel
(mean contrast at least 0.8 standard deviations of the background) and every channel has signal
inside the cell. Otherwise the image is a segmentation failure: its row is NaN and its failure
code says why (`FAILURES`). Pure noise and a translator's blanked channel fail these checks; real
crops of BBBC021 pass 99%, synthetic cells 100%. Metrics count failures (`segmentation-failures`,
misses in `classifier/target-share` and `source-fidelity`) instead of silently scoring survivors.

Features are memoised per Evaluation by a digest of the image bytes, so `cellprofiler`,
`fd-cellprofiler`, `classifier`, `effect` and `dose-response` in one run measure each image set
once; real images are also cached on disk (`cache.py`), as they are the same for every method.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from phenbench.core.metric import Evaluation
from phenbench.metrics.base import to_unit
from phenbench.metrics.cache import FeatureCache, cache_key, images_digest

MEMO_KEY = "phenbench.metrics.cp_features"
EXTRACTOR_VERSION = "cp3"  # bump when the feature set changes: it is part of the disk-cache key
# Haralick texture on 64 grey levels, not CellProfiler's 256: the 256 x 256 co-occurrence matrices
# made texture 80% of the cost (0.07 s per channel of a 68 x 68 crop); 64 levels keep the features.
TEXTURE_GRAY_LEVELS = 64
# Positions and orientation depend on where the crop was cut, not on the phenotype.
_NUISANCE = re.compile(r"Location|Center|Orientation|BoundingBox")

# What a plausible cell needs (measured on real BBBC021 crops, synthetic cells and pure noise,
# see docs/metrics.md): real crops pass 99.2%, synthetic cells 100%, pixel noise 0 to 3.5%.
MIN_NUCLEUS_FRACTION = 0.01  # of the crop's pixels
MIN_NUCLEUS_SOLIDITY = 0.6  # area / convex-hull area: noise "nuclei" are ragged
MIN_NUCLEUS_CONTRAST = 0.8  # (mean inside - mean outside) / std outside, nucleus channel
MIN_CHANNEL_STD = 1e-3  # [0, 1] units inside the cell: below it a channel is blank
FAILURES = (
    "",  # 0: a plausible cell was measured
    "no nucleus found",
    "nucleus smaller than 1% of the crop",
    "nucleus not compact (solidity < 0.6)",
    "nucleus too faint against its surroundings",
    "a channel is blank inside the cell",
)


@dataclass(frozen=True)
class FeatureTable:
    """Per-image features: `values` is N x K float64 (NaN rows where no plausible cell was found,
    single NaN entries where one measurement is undefined); `failures` the code of each row
    (0: measured, else an index into FAILURES)."""

    names: tuple[str, ...]
    values: np.ndarray
    failures: np.ndarray

    def measured_rows(self) -> np.ndarray:
        return self.failures == 0


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", name) or "ch"


def segment(image: np.ndarray, nucleus_channel: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """(nucleus mask, cell mask) as int32 label images with label 1, or None if nothing is found."""
    from scipy import ndimage
    from skimage.filters import gaussian, threshold_otsu
    from skimage.measure import label
    from skimage.segmentation import watershed

    nucleus_plane = gaussian(image[nucleus_channel], sigma=1.0)
    if np.ptp(nucleus_plane) < 1e-6:
        return None
    nuclei = label(ndimage.binary_fill_holes(nucleus_plane > threshold_otsu(nucleus_plane)))
    if nuclei.max() == 0:
        return None
    centre = np.array(image.shape[1:]) / 2.0
    centroids = ndimage.center_of_mass(nuclei > 0, nuclei, range(1, nuclei.max() + 1))
    nearest = 1 + int(np.argmin([np.hypot(*(np.array(c) - centre)) for c in centroids]))
    nucleus = nuclei == nearest
    whole = gaussian(image.mean(axis=0), sigma=1.0)
    foreground = whole > threshold_otsu(whole) if np.ptp(whole) > 1e-6 else np.ones_like(nucleus)
    foreground |= nucleus
    cell = watershed(-whole, markers=nucleus.astype(np.int32), mask=foreground) == 1
    cell = ndimage.binary_fill_holes(cell | nucleus)
    return nucleus.astype(np.int32), cell.astype(np.int32)


def implausibility(image: np.ndarray, nucleus: np.ndarray, cell: np.ndarray, nucleus_channel: int = 0) -> int:
    """0 if the masks hold a plausible cell, else the FAILURES code of the first check it fails."""
    from skimage.measure import regionprops

    inside = nucleus > 0
    if inside.sum() < MIN_NUCLEUS_FRACTION * inside.size:
        return 2
    if regionprops(inside.astype(np.int32))[0].solidity < MIN_NUCLEUS_SOLIDITY:
        return 3
    plane = image[nucleus_channel]
    outside = plane[~inside]
    if len(outside) > 1 and plane[inside].mean() - outside.mean() < MIN_NUCLEUS_CONTRAST * outside.std():
        return 4
    in_cell = cell > 0
    if min(float(channel[in_cell].std()) for channel in image) < MIN_CHANNEL_STD:
        return 5
    return 0


def measure(image: np.ndarray, channels: tuple[str, ...], nucleus_channel: int = 0) -> tuple[dict[str, float] | None, int]:
    """(CellProfiler features, 0) of one C x H x W image in [0, 1], or (None, failure code)."""
    masks = segment(image, nucleus_channel)
    if masks is None:
        return None, 1
    failure = implausibility(image, masks[0], masks[1], nucleus_channel)
    if failure:
        return None, failure
    return measure_objects(image, masks[0], masks[1], channels), 0


def measure_objects(
    image: np.ndarray, nucleus: np.ndarray, cell: np.ndarray, channels: tuple[str, ...]
) -> dict[str, float]:
    """cp-measure features of a nucleus and a cell mask (label 1) in one C x H x W image in [0, 1]."""
    from cp_measure.bulk import get_core_measurements, get_correlation_measurements

    masks = (nucleus.astype(np.int32), cell.astype(np.int32))
    core = get_core_measurements()
    pearson = get_correlation_measurements()["pearson"]
    features: dict[str, float] = {}

    def add(prefix: str, values: dict, channel: str = "") -> None:
        for key, value in values.items():
            if not _NUISANCE.search(key):
                name = f"{prefix}_{key}" + (f"_{channel}" if channel else "")
                features[name] = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])

    names = [_safe(c) for c in channels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate objects warn (e.g. a 1-pixel texture); values stay finite or NaN
        for obj, mask in (("Nuclei", masks[0]), ("Cells", masks[1])):
            add(f"{obj}_AreaShape", core["sizeshape"](mask, None, calculate_advanced=False))
            for c, channel in enumerate(names):
                add(obj, core["intensity"](mask, image[c]), channel)
        cell = masks[1]
        for c, channel in enumerate(names):
            add("Cells", core["texture"](cell, image[c], gray_levels=TEXTURE_GRAY_LEVELS), channel)
            add("Cells", core["granularity"](cell, image[c]), channel)
        for a, b in combinations(range(len(names)), 2):
            add("Cells", pearson(image[a], image[b], cell), f"{names[a]}_{names[b]}")
    return features


def _measure_chunk(
    chunk: np.ndarray, channels: tuple[str, ...], nucleus_channel: int
) -> list[tuple[dict[str, float] | None, int]]:
    from threadpoolctl import threadpool_limits

    # One BLAS/OpenMP thread: the arrays of one crop are tiny, so threads only add overhead and
    # contend with the other worker processes.
    with threadpool_limits(limits=1):
        return [measure(image, channels, nucleus_channel) for image in chunk]


def extract(
    images: torch.Tensor, channels: tuple[str, ...], nucleus_channel: int = 0, workers: int = 1
) -> FeatureTable:
    """Features of a batch; rows without a plausible cell are NaN, with their failure code.

    `workers` > 1 measures chunks of images in that many processes (cp-measure is pure Python and
    NumPy, one core per process); the result is the same as with one worker.
    """
    unit = to_unit(images).numpy().astype(np.float64)
    if workers > 1 and len(unit) >= 2 * workers:
        from concurrent.futures import ProcessPoolExecutor

        chunks = np.array_split(unit, workers * 4)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(_measure_chunk, chunks, [channels] * len(chunks), [nucleus_channel] * len(chunks))
            rows = [row for part in parts for row in part]
    else:
        rows = _measure_chunk(unit, channels, nucleus_channel)
    names: tuple[str, ...] = ()
    for row, _ in rows:
        if row is not None:
            names = tuple(row)
            break
    values = np.full((len(rows), len(names)), np.nan)
    for i, (row, _) in enumerate(rows):
        if row is not None:
            values[i] = [row.get(name, np.nan) for name in names]
    failures = np.array([code for _, code in rows], dtype=np.int8)
    return FeatureTable(names=names, values=values, failures=failures)


class FeatureExtractor:
    """CellProfiler features with a per-Evaluation memo and a disk cache for real images."""

    def __init__(
        self, evaluation: Evaluation, *, nucleus_channel: int = 0, disk_cache: bool = True, workers: int = 1
    ):
        self.evaluation = evaluation
        self.nucleus_channel = nucleus_channel
        self.workers = workers
        self.memo: dict[tuple, FeatureTable] = evaluation.options.setdefault(MEMO_KEY, {})
        self.cache = FeatureCache(enabled=disk_cache)

    def features(self, images: torch.Tensor, *, real_condition: str | None = None, split: str = "test") -> FeatureTable:
        """Features of `images`; give `real_condition` for real images so they are cached on disk."""
        digest = images_digest(images)
        key = self.memo_key(digest)
        if key not in self.memo:
            self.memo[key] = self._compute(images, digest, real_condition, split)
        return self.memo[key]

    def memo_key(self, digest: str) -> tuple:
        """The memo's key of the images with this `images_digest`."""
        return digest, self.nucleus_channel, self.evaluation.channels

    def disk_key(self, n_images: int, digest: str, real_condition: str, split: str) -> str:
        """The disk cache's key of real images of `real_condition`."""
        return cache_key(
            dataset_hash=self.evaluation.dataset_hash, split=split, condition=real_condition,
            extractor=f"cellprofiler-{EXTRACTOR_VERSION}-nuc{self.nucleus_channel}",
            n_images=n_images, digest=digest,
        )

    def channels(self, images: torch.Tensor) -> tuple[str, ...]:
        return tuple(self.evaluation.channels) or tuple(f"ch{i}" for i in range(images.shape[1]))

    def _compute(self, images: torch.Tensor, digest: str, real_condition: str | None, split: str) -> FeatureTable:
        channels = self.channels(images)
        if real_condition is None:
            return extract(images, channels, self.nucleus_channel, self.workers)
        key = self.disk_key(len(images), digest, real_condition, split)
        stored = self.cache.get_or_compute(
            key, lambda: table_arrays(extract(images, channels, self.nucleus_channel, self.workers))
        )
        return table_of_arrays(stored)


def table_arrays(table: FeatureTable) -> dict[str, np.ndarray]:
    """A table as the arrays the disk cache stores."""
    return {"values": table.values, "names": np.array(table.names, dtype=str), "failures": table.failures}


def table_of_arrays(stored: dict[str, np.ndarray]) -> FeatureTable:
    return FeatureTable(names=tuple(str(n) for n in stored["names"]), values=stored["values"],
                        failures=stored["failures"])
