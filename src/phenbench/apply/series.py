"""Dose series of one image: a strip with one panel per dose and an animated GIF, in dose order.

Both are for looking at, not measuring (composites as in `phenbench.imaging.panels`, the same
display range for every dose). The measured outputs are the per-dose images written in the
input's format beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from phenbench.imaging.files import write_array
from phenbench.imaging.panels import composites, panel_gap, strip, write_frames_gif


def write_series(series: torch.Tensor, channels: Sequence[str], strip_path: Path | None, gif_path: Path | None) -> None:
    """Write the strip (PNG) and/or the animated GIF of one image's dose series (D x C x S x S)."""
    panels = composites(series, channels)
    picture = strip(panels)
    if strip_path is not None:
        write_array(picture, strip_path, png=True)
    if gif_path is not None:
        write_gif(picture, len(panels), gif_path)


def write_gif(picture: np.ndarray, frames: int, path: Path) -> None:
    """An endlessly looping GIF of the strip's panels, one frame per dose."""
    size = picture.shape[0]  # panels are square
    step = size + panel_gap(size)
    write_frames_gif([picture[:, i * step : i * step + size] for i in range(frames)], path)
