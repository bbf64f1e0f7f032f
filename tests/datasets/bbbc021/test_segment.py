"""Nucleus segmentation on real BBBC021 DAPI: a mosaic of the shared crops, each centred on a nucleus."""

from __future__ import annotations

import numpy as np

from phenbench.datasets.bbbc021.segment import SegmentationOptions, crop_cells, nucleus_centres, segment_nuclei
from tests.datasets.shared_data import CROPS, requires_shared_bbbc021


def _mosaic(count: int = 48, columns: int = 8, gap: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Real DAPI crops (68 px, centred on their nucleus by the source pipeline) on a background grid."""
    with np.load(CROPS / "Week4_27481_B02.npz") as npz:
        dapi = npz["crops"][:count, ..., 0]
    size = dapi.shape[1]
    rows = -(-count // columns)
    field = np.full((rows * (size + gap) + gap, columns * (size + gap) + gap), np.percentile(dapi, 5), np.uint16)
    centres = []
    for k, crop in enumerate(dapi):
        top, left = gap + (k // columns) * (size + gap), gap + (k % columns) * (size + gap)
        field[top : top + size, left : left + size] = crop
        centres.append((top + size // 2, left + size // 2))
    return field, np.array(centres)


@requires_shared_bbbc021
def test_nuclei_of_real_crops_are_found_at_their_centres() -> None:
    field, centres = _mosaic()
    found = nucleus_centres(segment_nuclei(field))
    distance = np.array([np.hypot(*(found - c).T).min() for c in centres])
    assert np.median(distance) <= 2.0
    assert (distance < 5).mean() >= 0.9  # measured: 47 of 48 within 5 px
    # The watershed split matters on real, touching nuclei: without it fewer centres are right.
    merged = nucleus_centres(segment_nuclei(field, SegmentationOptions(split_touching=False)))
    merged_distance = np.array([np.hypot(*(merged - c).T).min() for c in centres])
    assert (merged_distance < 5).mean() < (distance < 5).mean()


def test_crops_at_the_border_are_dropped_not_padded() -> None:
    field = np.arange(3 * 40 * 50, dtype=np.uint16).reshape(3, 40, 50)
    cells = crop_cells(field, np.array([[20, 25], [5, 25], [20, 45]]), size=16)
    assert cells.dropped_at_edge == 2 and cells.crops.shape == (1, 3, 16, 16)
    np.testing.assert_array_equal(cells.crops[0], field[:, 12:28, 17:33])


def test_an_empty_field_has_no_nuclei() -> None:
    assert segment_nuclei(np.full((64, 64), 700, np.uint16)).max() == 0
