"""Reading single images of any channel count as C x H x W arrays in their own dtype.

PNG through Pillow (8-bit grey/RGB/RGBA, 16-bit grey), TIFF through tifffile (8/16-bit, float,
channels first or last, or one page per channel). Every failure is a DataError naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from phenbench.core.errors import DataError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
MAX_CHANNELS = 8  # an axis this short is a channel axis, not a spatial one


def read_image(path: str | Path) -> np.ndarray:
    """The image at `path` as C x H x W (uint8, uint16 or float32)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The image {path} is missing; restore it or remove it from the folder.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            array = _read_png(path)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            array = tifffile.imread(path)
        else:
            raise DataError(f"{path} is not a PNG or TIFF image; convert it or move it out of the folder.")
    except DataError:
        raise
    except Exception as exc:  # Pillow and tifffile raise many types for damaged files
        raise DataError(f"{path} cannot be read ({type(exc).__name__}: {exc}); replace the file.") from None
    return to_chw(np.squeeze(np.asarray(array)), path)


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        if image.mode in ("P", "LA", "PA", "1"):
            image = image.convert("RGBA" if "A" in image.mode else "L")
        if image.mode == "I" or image.mode.startswith("I;16"):
            return np.asarray(image).astype(np.uint16)
        if image.mode not in ("L", "RGB", "RGBA"):
            raise DataError(f"{path} has PNG mode {image.mode}, which is not supported; save it as TIFF.")
        return np.asarray(image)


def to_chw(array: np.ndarray, path: Path) -> np.ndarray:
    """H x W, H x W x C or C x H x W -> C x H x W (the short axis is the channel axis)."""
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3:
        if array.shape[-1] <= MAX_CHANNELS and array.shape[0] > MAX_CHANNELS:
            array = np.moveaxis(array, -1, 0)
        elif not array.shape[0] <= MAX_CHANNELS:
            raise DataError(f"{path} has shape {array.shape}: no axis of at most {MAX_CHANNELS} channels.")
    else:
        raise DataError(f"{path} has shape {array.shape}; expected a 2-D image with up to {MAX_CHANNELS} channels.")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":
        array = array.astype(np.float32)
    elif array.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path} has pixel type {array.dtype}; use 8-bit, 16-bit or float images.")
    return np.ascontiguousarray(array)
