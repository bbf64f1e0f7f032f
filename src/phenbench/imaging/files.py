"""Writing images and naming files: shared by `phenbench translate` and `phenbench explain`.

Every write is atomic (a temporary name, then a rename), so a file that exists is complete.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from phenbench.core.errors import DataError


def safe_name(name: str) -> str:
    """A condition name as a folder name: `latrunculin B@0.3` -> `latrunculin_B@0.3`."""
    return re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._") or "_"


def write_array(array: np.ndarray, path: Path, *, png: bool) -> None:
    """Atomically write an H x W, H x W x C or C x H x W array as PNG (Pillow) or TIFF (tifffile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if png:
            from PIL import Image

            if array.dtype == np.uint16:
                if array.ndim != 2:
                    raise DataError(f"{path}: Pillow writes 16-bit PNG only for grey images; use TIFF input.")
                image = Image.fromarray(array)  # mode "I;16": a 16-bit grey PNG
            else:
                image = Image.fromarray(array)
            image.save(tmp, format="PNG")
        else:
            import tifffile

            if array.ndim == 3 and array.shape[-1] != array.shape[0] and array.shape[-1] <= 8:
                # channels last: interleaved samples, as RGB for 3 channels
                options = {"photometric": "rgb" if array.shape[-1] == 3 else "minisblack", "planarconfig": "contig"}
            else:
                options = {"photometric": "minisblack"}  # one page (plane) per channel
            tifffile.imwrite(tmp, array, **options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
