"""Moved to `phenbench.datasets.screen.segment` (segmentation serves every screen); kept so imports work."""

from phenbench.datasets.screen.segment import (  # noqa: F401
    FieldCells,
    SegmentationOptions,
    cells_of_field,
    crop_cells,
    nucleus_centres,
    segment_nuclei,
)
