"""Phenotype readouts measured on images of the synthetic world (never on its parameters).

Metrics use these to ask whether a translated image moved the ground-truth phenotype toward its
target, so they are computed from pixels alone, by fixed thresholds on smoothed channels
(scipy / scikit-image), and work on any 3-channel image in [-1, 1], generated ones included.
Thresholds come from the world's control population (a fixed share of a typical cell's
brightness), so the same image gets the same numbers in every run. Lengths and areas are in
reference pixels (a 64 x 64 field), so worlds of different `image_size` read alike.

Every compound parameter moves one readout (`READOUT_OF_PARAMETER`), monotonically. An image in
which no nucleus is found gets NaN for every readout: there is nothing to measure, and a made-up
number would bias a metric.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold
from skimage.measure import label, regionprops
from skimage.morphology import disk

from phenbench.core.errors import DataError
from phenbench.datasets.synthetic.config import SyntheticConfig
from phenbench.datasets.synthetic.render import CHANNELS, PUNCTUM_BRIGHTNESS
from phenbench.datasets.synthetic.world import REFERENCE_SIZE

READOUTS: tuple[str, ...] = (
    "nuclear_area",  # mean area of a nucleus
    "cell_area",  # area of cell bodies per nucleus
    "dna_intensity",  # mean DNA inside nuclei
    "tubulin_intensity",  # mean tubulin in the cytoplasm, organelle excluded
    "actin_rim_intensity",  # mean actin in a band along the cell border
    "organelle_spread",  # radius of gyration of each cell's organelle puncta, averaged over cells
    "cell_count",  # nuclei found
)

READOUT_OF_PARAMETER: dict[str, str] = {
    "nucleus_radius": "nuclear_area",
    "cytoplasm_radius": "cell_area",
    "dna_intensity": "dna_intensity",
    "tubulin_intensity": "tubulin_intensity",
    "actin_intensity": "actin_rim_intensity",
    "organelle_dispersion": "organelle_spread",
}

MIN_NUCLEUS_AREA = 6.0  # reference pixels: smaller bright specks are noise, not nuclei
RIM_BAND = 2.0  # width of the border band for the actin rim, reference pixels
CELL_SMOOTHING = 1.0  # blur before thresholding the cell body, to bridge the fibre texture
# Puncta are found with a difference of Gaussians: smoothing matched to a punctum's size keeps
# them and averages away read noise; the wide Gaussian is the local cytoplasm to subtract.
# Hysteresis: a punctum's pixels pass the low threshold and at least one passes the high one, so
# a noise speck or a fibre crossing rarely counts.
PUNCTA_SMOOTHING = 0.5
PUNCTA_LOW = 0.25  # shares of a punctum's brightness that the smoothed excess must reach
PUNCTA_HIGH = 0.45
PUNCTA_BACKGROUND = 2.5  # scale of the local tubulin background removed before finding puncta
MIN_PUNCTA_PIXELS = 2


class PhenotypeReadouts:
    """Measures `READOUTS` on batches of images of one synthetic world."""

    def __init__(self, config: SyntheticConfig):
        cells, background = config.cells, config.noise.background
        # A fraction of a typical control cell's interior brightness: low enough that a compound
        # that dims a channel still finds the same outlines, high enough to stay clear of noise.
        self.nucleus_threshold = background + 0.35 * 0.85 * cells.dna_intensity.mean
        self.cell_threshold = background + 0.3 * 0.78 * cells.tubulin_intensity.mean
        self.puncta_thresholds = (PUNCTA_LOW * PUNCTUM_BRIGHTNESS, PUNCTA_HIGH * PUNCTUM_BRIGHTNESS)

    @property
    def names(self) -> list[str]:
        return list(READOUTS)

    def __call__(self, images: torch.Tensor | np.ndarray) -> tuple[list[str], np.ndarray]:
        """(readout names, N x K float64 array) for images N x 3 x H x W in [-1, 1]."""
        array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if array.ndim != 4 or array.shape[1] != len(CHANNELS) or array.shape[2] != array.shape[3]:
            raise DataError(
                f"Synthetic readouts need square images N x 3 x H x W ({', '.join(CHANNELS)}), got {array.shape}."
            )
        unit = np.clip((array.astype(np.float64) + 1.0) / 2.0, 0.0, 1.0)
        if not len(unit):
            return self.names, np.zeros((0, len(READOUTS)))
        return self.names, np.stack([self.measure(image) for image in unit])

    def measure(self, image: np.ndarray) -> np.ndarray:
        """The readouts of one image, channels in [0, 1] (3 x H x W)."""
        dna, tubulin, actin = image
        scale = dna.shape[0] / REFERENCE_SIZE  # image pixels per reference pixel
        area_unit = scale**2

        nuclei = label(ndimage.gaussian_filter(dna, 0.5 * scale) > self.nucleus_threshold)
        regions = [r for r in regionprops(nuclei) if r.area >= MIN_NUCLEUS_AREA * area_unit]
        if not regions:
            return np.full(len(READOUTS), np.nan)
        nucleus_mask = np.isin(nuclei, [r.label for r in regions])
        smooth_tubulin = ndimage.gaussian_filter(tubulin, CELL_SMOOTHING * scale)
        cell_mask = ndimage.binary_fill_holes((smooth_tubulin > self.cell_threshold) | nucleus_mask)
        interior = ndimage.binary_erosion(cell_mask, disk(max(1, round(RIM_BAND * scale))))
        band = cell_mask & ~interior

        # Puncta: tubulin above its local background (fibres and cytoplasm) by a fixed margin.
        local = ndimage.gaussian_filter(tubulin, PUNCTA_SMOOTHING * scale)
        local -= ndimage.gaussian_filter(tubulin, PUNCTA_BACKGROUND * scale)
        puncta = apply_hysteresis_threshold(local, *self.puncta_thresholds) & cell_mask & ~nucleus_mask
        # Intensities away from soft borders, so that a smaller cell or nucleus (a change of
        # shape) does not read as a change of brightness.
        margin = disk(max(1, round(scale)))
        excluded = ndimage.binary_dilation(nucleus_mask | puncta, margin)
        cytoplasm = interior & ~excluded
        cytoplasm = cytoplasm if cytoplasm.any() else cell_mask & ~nucleus_mask & ~puncta  # a tiny cell
        nucleus_core = ndimage.binary_erosion(nucleus_mask, margin)
        nucleus_core = nucleus_core if nucleus_core.any() else nucleus_mask

        centroids = np.array([r.centroid for r in regions])
        return np.array(
            [
                np.mean([r.area for r in regions]) / area_unit,
                cell_mask.sum() / len(regions) / area_unit,
                dna[nucleus_core].mean(),
                tubulin[cytoplasm].mean() if cytoplasm.any() else np.nan,
                actin[band].mean() if band.any() else np.nan,
                organelle_spread(puncta, local - self.puncta_thresholds[0], centroids) / scale,
                float(len(regions)),
            ]
        )


def organelle_spread(puncta: np.ndarray, weights: np.ndarray, centroids: np.ndarray) -> float:
    """Mean over cells of the weighted radius of gyration of the puncta pixels nearest each nucleus.

    A compact organelle gives a small radius, scattered puncta a large one. Cells without puncta
    pixels are left out; an image with none at all gets NaN.
    """
    ys, xs = np.nonzero(puncta)
    if len(ys) == 0:
        return np.nan
    points = np.stack([ys, xs], axis=1).astype(np.float64)
    owner = np.argmin(((points[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    w = weights[ys, xs]
    radii = []
    for cell in range(len(centroids)):
        mine = owner == cell
        if mine.sum() < MIN_PUNCTA_PIXELS:
            continue
        p, pw = points[mine], w[mine]
        center = (p * pw[:, None]).sum(axis=0) / pw.sum()
        radii.append(np.sqrt((pw * ((p - center) ** 2).sum(axis=1)).sum() / pw.sum()))
    return float(np.mean(radii)) if radii else np.nan
