"""Writing figures: PNG, SVG/PDF with text kept as text, animated GIFs; every file atomically.

The vector files are reproducible (no creation date, fixed SVG ids), so two runs of the same job,
or one job split over several processes, write byte-identical files.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from phenbench.imaging.display import png_bytes
from phenbench.imaging.figures.layout import DrawnFigure, Layout, draw

GIF_FRAME_MS = 600
# Text as text: SVG <text> elements, PDF TrueType (Type 42) fonts, both editable in a vector editor.
VECTOR_RC = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "phenbench"}
NO_DATES = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}


def write_figure(layout: Layout, png_path: Path, vector: Sequence[str] = (), *, gif_path: Path | None = None,
                 gif_rows: int = 1) -> list[Path]:
    """Draw `layout` and write its PNG, vector files and, if asked, a GIF stepping through its
    columns (the first `gif_rows` rows, labels included); returns the paths written."""
    drawn = draw(layout)
    picture = drawn.rgb()
    paths = save_figure(drawn, png_path, vector, picture=picture)
    if gif_path is not None:
        write_frames_gif(drawn.column_frames(picture, gif_rows), gif_path)
        paths.append(gif_path)
    return paths


def figure_bytes(drawn: DrawnFigure, fmt: str) -> bytes:
    """The figure encoded by matplotlib as `png`, `svg` or `pdf`."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(VECTOR_RC):
        drawn.figure.savefig(buffer, format=fmt, dpi=drawn.figure.dpi, metadata=NO_DATES.get(fmt))
    return buffer.getvalue()


def save_figure(drawn: DrawnFigure, png_path: Path, vector: Sequence[str] = (), *,
                picture: np.ndarray | None = None) -> list[Path]:
    """Write the PNG at `png_path` and each vector format beside it (same stem); returns the paths.
    `picture`: the figure's `rgb()` where already drawn (the PNG is encoded from it, not drawn again)."""
    write_atomically(png_path, png_bytes(drawn.rgb() if picture is None else picture))
    paths = [png_path] + [png_path.with_suffix(f".{fmt}") for fmt in vector]
    for path in paths[1:]:
        write_atomically(path, figure_bytes(drawn, path.suffix[1:]))
    return paths


def write_atomically(path: Path, data: bytes) -> None:
    """A temporary name, then a rename: a file that exists is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_array(array: np.ndarray, path: Path) -> None:
    """A float32 .npy of the panels' values, for measuring what the figure shows."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    write_atomically(path, buffer.getvalue())


def write_frames_gif(frames: Sequence[np.ndarray], path: Path) -> None:
    """An endlessly looping GIF of H x W x 3 uint8 frames (padded with white to the largest).

    The frames are stacked and quantised to one 256-colour palette (fast octree), then cut apart:
    every frame shares the palette, so a colour means the same in every frame, and Pillow's default
    per-frame median cut (30 ms a frame) is skipped.
    """
    from PIL import Image

    height = max(f.shape[0] for f in frames)
    width = max(f.shape[1] for f in frames)
    padded = []
    for frame in frames:
        canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        canvas[: frame.shape[0], : frame.shape[1]] = frame
        padded.append(canvas)
    paletted = Image.fromarray(np.concatenate(padded, axis=0)).quantize(256, method=Image.Quantize.FASTOCTREE)
    images = [paletted.crop((0, i * height, width, (i + 1) * height)) for i in range(len(frames))]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=GIF_FRAME_MS,
                   loop=0, disposal=1, optimize=False)
    write_atomically(path, buffer.getvalue())
