"""Pictures for looking at, not measuring: channel composites, panels side by side, animated GIFs.

Channels are shown as a fluorescence composite (the report's colours: DNA blue, tubulin green,
actin red, others from a palette; one channel in grey) over the model's whole [-1, 1] range, the
same for every panel, so brightness changes between panels stay visible.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from phenbench.imaging.display import ChannelDisplay, default_colours

GIF_FRAME_MS = 600


def panel_gap(size: int) -> int:
    """White space between panels: a sixteenth of a panel, at least one pixel."""
    return max(1, size // 16)


def composites(images: torch.Tensor, channels: Sequence[str]) -> np.ndarray:
    """N x C x H x W in [-1, 1] -> N x H x W x 3 uint8 composites on a fixed [-1, 1] display range."""
    c = len(channels)
    display = ChannelDisplay(
        channels=tuple(channels),
        colours=tuple(default_colours(channels)),
        low=(-1.0,) * c,
        high=(1.0,) * c,
        difference_limit=(1.0,) * c,
    )
    return display.composite(images.detach().cpu().numpy())


def strip(panels: np.ndarray) -> np.ndarray:
    """N x H x W x 3 panels side by side, left to right, separated by white gaps."""
    n, h, w, _ = panels.shape
    gap = panel_gap(w)
    out = np.full((h, n * w + (n - 1) * gap, 3), 255, dtype=np.uint8)
    for i in range(n):
        out[:, i * (w + gap) : i * (w + gap) + w] = panels[i]
    return out


def write_frames_gif(frames: Sequence[np.ndarray], path: Path) -> None:
    """An endlessly looping GIF of equally sized H x W x 3 uint8 frames.

    The frames are stacked and quantised to one 256-colour palette (fast octree), then cut apart:
    every frame shares the palette, so a colour means the same in every frame, and Pillow's default
    per-frame median cut (30 ms a frame) is skipped. Written to a temporary name, then renamed.
    """
    from PIL import Image

    height = frames[0].shape[0]
    paletted = Image.fromarray(np.concatenate(list(frames), axis=0)).quantize(256, method=Image.Quantize.FASTOCTREE)
    images = [paletted.crop((0, i * height, paletted.width, (i + 1) * height)) for i in range(len(frames))]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=GIF_FRAME_MS,
                       loop=0, disposal=1, optimize=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
