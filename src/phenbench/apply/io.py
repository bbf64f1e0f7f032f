"""Reading a user's PNG/TIFF files and writing results in the same format, bit depth and layout.

Decoding is shared with the dataset adapters (`datasets.images_io`), so a file the training data
could hold reads the same way here. What this module adds is remembering how each file was laid
out (channels first, channels last, or a plain 2-D grey image) so the output looks like the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phenbench.core.errors import DataError
from phenbench.datasets.images_io import IMAGE_SUFFIXES, read_image
from phenbench.imaging.files import write_array

LAYOUTS = ("hw", "chw", "hwc")


@dataclass(frozen=True)
class UserImage:
    """One input file: its pixels as C x H x W in the file's own dtype, and how it was stored."""

    path: Path
    pixels: np.ndarray  # C x H x W, uint8 / uint16 / float32
    layout: str  # "hw", "chw" or "hwc"

    @property
    def dtype(self) -> np.dtype:
        return self.pixels.dtype

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


def list_images(path: str | Path) -> list[Path]:
    """The PNG/TIFF files of a folder (recursively, sorted) or a single file."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path} is not a PNG or TIFF image; give a .png, .tif or .tiff file or a folder.")
        return [path]
    if not path.is_dir():
        raise DataError(f"--images {path} does not exist; give a folder of PNG/TIFF files or one file.")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"No PNG or TIFF files in {path}; the translator reads .png, .tif and .tiff.")
    return files


def read_user_image(path: Path, channels: tuple[str, ...]) -> UserImage:
    """Read `path` and check it has the channel count the model was trained on."""
    pixels = read_image(path)  # C x H x W; raises a DataError naming the file if unreadable
    if pixels.shape[0] != len(channels):
        raise DataError(
            f"{path} has {pixels.shape[0]} channel(s) but the model was trained on {len(channels)} "
            f"({', '.join(channels)}); give images with that channel layout."
        )
    return UserImage(path=path, pixels=pixels, layout=_stored_layout(path, pixels.shape))


def _stored_layout(path: Path, chw_shape: tuple[int, ...]) -> str:
    """How the file held its channels, so the output is written the same way."""
    if chw_shape[0] == 1:
        return "hw"
    if path.suffix.lower() == ".png":
        return "hwc"  # PNG is always interleaved
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = "".join(a for a, n in zip(series.axes, series.shape) if n != 1)
    # "S" is tifffile's axis of interleaved samples (RGB-like, channels last)
    return "hwc" if axes.endswith("S") else "chw"


def to_file_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float intensities -> the file's dtype: rounded and clipped for integer types."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def write_like(pixels: np.ndarray, like: UserImage, path: Path) -> None:
    """Write C x H x W `pixels` (already in `like`'s dtype) to `path` in `like`'s format and layout.

    Written to a temporary name and renamed: a file that exists is complete, which is what lets
    a killed run resume by skipping existing files.
    """
    if like.layout == "hw":
        array = pixels[0]
    elif like.layout == "hwc":
        array = np.moveaxis(pixels, 0, -1)
    else:
        array = pixels
    write_array(np.ascontiguousarray(array), path, png=like.suffix == ".png")
