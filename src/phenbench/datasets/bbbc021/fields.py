"""One field of view of the raw release: read its three TIFFs, segment, crop, save the result.

These functions run in worker processes (they take and return plain data). A field that cannot be
used (a missing or corrupt TIFF, channels of different shapes) raises `FieldSkipped` with the
reason; the preparation counts it in its report, or stops on it in strict mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from phenbench.datasets.bbbc021.illumination import correct, downscaled
from phenbench.datasets.bbbc021.metadata import CHANNELS
from phenbench.datasets.bbbc021.segment import SegmentationOptions, cells_of_field


class FieldSkipped(Exception):
    """A field that cannot be prepared: `reason` is a short category, the message names the file."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FieldJob:
    """What a worker needs to prepare one field."""

    key: str  # "T<TableNumber>_I<ImageNumber>"
    files: tuple[str, ...]  # absolute paths, one per channel (DAPI first)
    out: str  # the field's result file (npz)
    crop_size: int
    segmentation: SegmentationOptions
    flat_field: str | None = None  # the plate's flat field (npy), when correcting illumination


def field_key(table_number: int, image_number: int) -> str:
    return f"T{int(table_number)}_I{int(image_number)}"


def read_field(files: tuple[str, ...]) -> np.ndarray:
    """The channels of one field stacked as C x H x W (the files' own dtype)."""
    planes = []
    for path in files:
        if not os.path.isfile(path):
            raise FieldSkipped("missing TIFF", f"{path} is missing: download its plate again or drop the plate.")
        try:
            plane = tifffile.imread(path)
        except Exception as exc:  # tifffile raises many types for damaged files
            raise FieldSkipped(
                "corrupt TIFF", f"{path} cannot be read as a TIFF ({type(exc).__name__}: {exc}); download it again."
            ) from None
        plane = np.squeeze(plane)
        if plane.size == 0:  # tifffile reads a TIFF with a broken header as an empty array
            raise FieldSkipped("corrupt TIFF", f"{path} holds no image data (a damaged TIFF); download it again.")
        if plane.ndim != 2:
            raise FieldSkipped("not a 2-D image", f"{path} holds an image of shape {plane.shape}, not one 2-D plane.")
        planes.append(plane)
    shapes = {p.shape for p in planes}
    if len(shapes) > 1:
        listing = ", ".join(f"{Path(f).name} {p.shape}" for f, p in zip(files, planes))
        raise FieldSkipped("channels of different shapes", f"the channels of one field differ in shape: {listing}.")
    return np.stack(planes)


def prepare_field(job: FieldJob) -> dict:
    """Segment and crop one field; write the crops to `job.out` atomically. Returns a summary."""
    try:
        field = read_field(job.files)
    except FieldSkipped as skip:
        return {"key": job.key, "skipped": skip.reason, "message": str(skip)}
    if job.flat_field is not None:
        field = correct(field, np.load(job.flat_field))
    cells = cells_of_field(field, job.crop_size, job.segmentation)
    out = Path(job.out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, crops=cells.crops, centres=cells.centres, dropped_at_edge=cells.dropped_at_edge)
    os.replace(tmp, out)
    return {"key": job.key, "cells": len(cells.centres), "dropped_at_edge": cells.dropped_at_edge}


def field_average_part(files: tuple[str, ...]) -> np.ndarray | dict:
    """A field's downscaled image for its plate's illumination average (or the skip as a dict)."""
    try:
        return downscaled(read_field(files))
    except FieldSkipped as skip:
        return {"skipped": skip.reason, "message": str(skip)}


def limit_worker_threads() -> None:
    """Worker initializer: one BLAS/OpenMP thread per process (else N workers oversubscribe N cores)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # threadpoolctl comes with scikit-learn; without it the env vars still help
        pass


CHANNEL_ORDER = CHANNELS  # DAPI first: segmentation uses channel 0
