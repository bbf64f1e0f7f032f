"""One field of view of a screen: read its channels, segment (or take the given nuclei), crop, save.

These functions run in worker processes (they take and return plain data). A channel is a file
holding one 2-D plane (TIFF or PNG) or one page of a multi-page TIFF (a LoadData `Frame_` column,
or one stack per field); a file named by several channels is read once. A field that cannot be used
(a missing or corrupt file, channels of different shapes, a field of another size or pixel type
than the screen's first) raises `FieldSkipped` with the reason; the preparation counts it in its
report, or stops on it in strict mode. `check_field` finds the same problems from the files'
headers alone, so a strict preparation refuses them before segmenting anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from phenbench.core.errors import DataError
from phenbench.datasets.images_io import MAX_CHANNELS, read_image
from phenbench.datasets.screen.illumination import correct, downscaled
from phenbench.datasets.screen.segment import SegmentationOptions, cells_of_field, crop_cells

TIFF_SUFFIXES = (".tif", ".tiff")


class FieldSkipped(Exception):
    """A field that cannot be prepared: `reason` is a short category, the message names the file."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FieldJob:
    """What a worker needs to prepare one field."""

    key: str  # the field's name in the cache and its result file's stem
    files: tuple[str, ...]  # absolute paths, one per channel, in storage order
    out: str  # the field's result file (npz)
    crop_size: int
    segmentation: SegmentationOptions
    flat_field: str | None = None  # the plate's flat field (npy), when correcting illumination
    pages: tuple[int | None, ...] | None = None  # page of each channel's file (None: a one-plane file)
    nucleus_channel: int = 0
    centres: np.ndarray | None = None  # K x 2 nucleus centres (row, col) to crop around, instead of segmenting
    expect: tuple[tuple[int, ...], str] | None = None  # the screen's field shape and dtype (the first field's)


def _kind(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return "TIFF" if suffix in TIFF_SUFFIXES else "PNG" if suffix == ".png" else "image"


def _read_file(path: str) -> np.ndarray:
    """The whole file as an array, size-1 axes dropped."""
    kind = _kind(path)
    if not os.path.isfile(path):
        raise FieldSkipped(f"missing {kind}", f"{path} is missing: download its plate again or drop the plate.")
    if kind == "PNG":
        try:
            return np.squeeze(read_image(path))
        except DataError as exc:
            raise FieldSkipped("corrupt PNG", str(exc)) from None
    if kind != "TIFF":
        raise FieldSkipped("not a TIFF or PNG", f"{path} is not a TIFF or PNG image; convert it to TIFF.")
    try:
        array = tifffile.imread(path)
    except Exception as exc:  # tifffile raises many types for damaged files
        raise FieldSkipped(
            "corrupt TIFF", f"{path} cannot be read as a TIFF ({type(exc).__name__}: {exc}); download it again."
        ) from None
    array = np.squeeze(array)
    if array.size == 0:  # tifffile reads a TIFF with a broken header as an empty array
        raise FieldSkipped("corrupt TIFF", f"{path} holds no image data (a damaged TIFF); download it again.")
    return array


def _header(path: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a file, from its header where it is a TIFF (no pixels read)."""
    if _kind(path) != "TIFF" or not os.path.isfile(path):
        array = _read_file(path)
        return array.shape, array.dtype
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, dtype = tuple(d for d in series.shape if d != 1), np.dtype(series.dtype)
    except Exception as exc:
        raise FieldSkipped(
            "corrupt TIFF", f"{path} cannot be read as a TIFF ({type(exc).__name__}: {exc}); download it again."
        ) from None
    if not shape or 0 in shape:
        raise FieldSkipped("corrupt TIFF", f"{path} holds no image data (a damaged TIFF); download it again.")
    return shape, dtype


def _page_axis(shape: tuple[int, ...], path: str, page: int | None) -> int | None:
    """The axis of a file's array holding its pages (None: the file is one 2-D plane), `page` checked."""
    if page is None or (len(shape) == 2 and page == 0):
        if len(shape) != 2:
            raise FieldSkipped("not a 2-D image", f"{path} holds an image of shape {shape}, not one 2-D plane.")
        return None
    if len(shape) == 3:
        # The short axis holds the pages (channels first or last), as images_io.to_chw reads them.
        axis = 2 if shape[2] <= MAX_CHANNELS < shape[0] else 0 if shape[0] <= MAX_CHANNELS else None
        if axis is not None and page < shape[axis]:
            return axis
    raise FieldSkipped(
        "missing page", f"{path} has no page {page} (it holds an image of shape {shape}); check its Frame_ column."
    )


def _check_planes(files: tuple[str, ...], shapes: list[tuple], dtypes: list[np.dtype], expect) -> None:
    if len(set(shapes)) > 1:
        listing = ", ".join(f"{Path(f).name} {s}" for f, s in zip(files, shapes))
        raise FieldSkipped("channels of different shapes", f"the channels of one field differ in shape: {listing}.")
    if expect is None:
        return
    shape, dtype = tuple(expect[0]), np.dtype(expect[1])
    if shapes[0] != shape:
        raise FieldSkipped(
            "field of another shape",
            f"{files[0]} is {' x '.join(map(str, shapes[0]))} pixels, but the screen's first field is "
            f"{' x '.join(map(str, shape))}; a cache holds fields of one size: prepare the others separately.",
        )
    for path, found in zip(files, dtypes):
        if found != dtype:
            raise FieldSkipped(
                "field of another pixel type",
                f"{path} holds {found} pixels, but the screen's first field holds {dtype}; convert it or prepare it separately.",
            )


def _pages(job_pages, files) -> tuple:
    return job_pages if job_pages is not None else (None,) * len(files)


def read_field(files: tuple[str, ...], pages: tuple | None = None, expect=None) -> np.ndarray:
    """The channels of one field stacked as C x H x W (the files' own dtype)."""
    arrays: dict[str, np.ndarray] = {}
    planes = []
    for path, page in zip(files, _pages(pages, files)):
        if path not in arrays:
            arrays[path] = _read_file(path)
        axis = _page_axis(arrays[path].shape, path, page)
        planes.append(arrays[path] if axis is None else np.take(arrays[path], page, axis=axis))
    _check_planes(files, [p.shape for p in planes], [p.dtype for p in planes], expect)
    return np.stack(planes)


def plane_format(files: tuple[str, ...], pages: tuple | None = None) -> tuple[tuple[int, ...], str] | None:
    """Shape and dtype of a field's first channel, from the file's header (None if unreadable)."""
    page = _pages(pages, files)[0]
    try:
        shape, dtype = _header(files[0])
        axis = _page_axis(shape, files[0], page)
    except FieldSkipped:
        return None
    return tuple(d for i, d in enumerate(shape) if i != axis), dtype.str


def check_field(job: FieldJob) -> dict:
    """`job`'s field checked from its files' headers: the skip it would meet, or just its key."""
    headers: dict[str, tuple] = {}
    shapes, dtypes = [], []
    try:
        for path, page in zip(job.files, _pages(job.pages, job.files)):
            if path not in headers:
                headers[path] = _header(path)
            shape, dtype = headers[path]
            axis = _page_axis(shape, path, page)
            shapes.append(tuple(d for i, d in enumerate(shape) if i != axis))
            dtypes.append(dtype)
        _check_planes(job.files, shapes, dtypes, job.expect)
    except FieldSkipped as skip:
        return {"key": job.key, "skipped": skip.reason, "message": str(skip)}
    return {"key": job.key}


def prepare_field(job: FieldJob) -> dict:
    """Segment (or take the given nuclei) and crop one field; write the crops to `job.out` atomically."""
    try:
        field = read_field(job.files, job.pages, job.expect)
    except FieldSkipped as skip:
        return {"key": job.key, "skipped": skip.reason, "message": str(skip)}
    if job.flat_field is not None:
        field = correct(field, np.load(job.flat_field))
    if job.centres is not None:
        cells = crop_cells(field, np.asarray(job.centres, dtype=np.int64).reshape(-1, 2), job.crop_size)
    else:
        cells = cells_of_field(field, job.crop_size, job.segmentation, job.nucleus_channel)
    out = Path(job.out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, crops=cells.crops, centres=cells.centres, dropped_at_edge=cells.dropped_at_edge)
    os.replace(tmp, out)
    return {"key": job.key, "cells": len(cells.centres), "dropped_at_edge": cells.dropped_at_edge}


def field_average_part(job: FieldJob) -> np.ndarray | dict:
    """A field's downscaled image for its plate's illumination average (or the skip as a dict)."""
    try:
        return downscaled(read_field(job.files, job.pages, job.expect))
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
