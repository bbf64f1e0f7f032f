"""Channel display: per-channel contrast, colour composites, single-channel views, difference maps.

Microscopy images have any number of channels (1 to 6), each a separate stain, so nothing here
assumes RGB. Every channel gets its own display range (low and high percentiles of the *real*
images in the report), and that range is shared by every image of the report: a translator that
brightens a channel then looks brighter, instead of being silently re-normalised away.

Composites blend channels additively, each in its own colour: DNA blue, tubulin green, actin red
by default (the convention of BBBC021 figures), other channels from a fixed palette.
Difference maps show translated minus source per channel on a diverging scale (blue = darker,
red = brighter), in the images' own units ([-1, 1] pixel values), with one symmetric range per
channel for the whole report.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from phenbench.core.errors import ConfigError

RGB = tuple[float, float, float]

NAMED_COLOURS: dict[str, RGB] = {
    "blue": (0.0, 0.0, 1.0),
    "green": (0.0, 1.0, 0.0),
    "red": (1.0, 0.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "orange": (1.0, 0.5, 0.0),
    "white": (1.0, 1.0, 1.0),
    "gray": (1.0, 1.0, 1.0),
    "grey": (1.0, 1.0, 1.0),
}
# Stain names (lower case, matched as a word start) and their conventional colours.
STAIN_COLOURS: tuple[tuple[str, str], ...] = (
    (r"dna|dapi|hoechst|nucle", "blue"),
    (r"tubulin|microtubule", "green"),
    (r"actin|phalloidin", "red"),
)
# Colours for channels with no conventional one, in the order they are handed out.
PALETTE: tuple[str, ...] = ("magenta", "cyan", "yellow", "orange", "green", "red", "blue")
DIFFERENCE_COLORMAP = "RdBu_r"
GAP_LEVEL, GAP_GREY = 0, (150, 150, 150)


def parse_colour(text: str) -> RGB:
    """A colour name (`blue`, `magenta`, ...) or `#rrggbb` as an RGB triple in [0, 1]."""
    value = text.strip().lower()
    if value in NAMED_COLOURS:
        return NAMED_COLOURS[value]
    if re.fullmatch(r"#[0-9a-f]{6}", value):
        return tuple(int(value[i : i + 2], 16) / 255.0 for i in (1, 3, 5))  # type: ignore[return-value]
    raise ConfigError(f"Unknown colour '{text}'; use #rrggbb or one of {', '.join(sorted(NAMED_COLOURS))}.")


def parse_channel_colours(values: Sequence[str]) -> dict[str, str]:
    """`--colour CHANNEL=COLOUR` values as a channel -> colour dict (colours checked where used)."""
    colours = {}
    for value in values:
        channel, sep, colour = value.partition("=")
        if not sep or not channel or not colour:
            raise ConfigError(f"--colour '{value}' is not CHANNEL=COLOUR (e.g. DNA=blue or actin=#ff0000).")
        colours[channel] = colour
    return colours


def default_colours(channels: Sequence[str], chosen: dict[str, str] | None = None) -> list[RGB]:
    """One colour per channel: `chosen` (channel name -> colour) first, then stain conventions,
    then the palette; a lone channel is shown in grey (white), as microscopists do."""
    chosen = dict(chosen or {})
    unknown = sorted(set(chosen) - set(channels))
    if unknown:
        raise ConfigError(
            f"Colour given for unknown channel(s) {', '.join(unknown)}; the channels are {', '.join(channels)}."
        )
    if len(channels) == 1 and not chosen:
        return [NAMED_COLOURS["white"]]
    colours: list[RGB | None] = []
    for name in channels:
        if name in chosen:
            colours.append(parse_colour(chosen[name]))
            continue
        stain = next((c for pattern, c in STAIN_COLOURS if re.match(pattern, name.lower())), None)
        colours.append(NAMED_COLOURS[stain] if stain else None)
    used = {c for c in colours if c is not None}
    spare = [NAMED_COLOURS[n] for n in PALETTE if NAMED_COLOURS[n] not in used]
    return [c if c is not None else (spare.pop(0) if spare else NAMED_COLOURS["white"]) for c in colours]


@dataclass(frozen=True)
class ChannelDisplay:
    """How to show images of one dataset: channel names, colours, display ranges, difference ranges."""

    channels: tuple[str, ...]
    colours: tuple[RGB, ...]
    low: tuple[float, ...]  # pixel value shown black, per channel
    high: tuple[float, ...]  # pixel value shown at full colour, per channel
    difference_limit: tuple[float, ...]  # |translated - source| shown at full colour, per channel

    @classmethod
    def fit(
        cls,
        channels: Sequence[str],
        reference: np.ndarray,
        differences: np.ndarray | None = None,
        *,
        colours: Sequence[RGB] | None = None,
        percentiles: tuple[float, float] = (0.5, 99.5),
    ) -> "ChannelDisplay":
        """Display ranges from `reference` (N x C x H x W real images) and, for difference maps,
        the 99th percentile of |differences| per channel."""
        reference = np.asarray(reference, dtype=np.float32)
        if reference.ndim != 4 or reference.shape[1] != len(channels) or len(reference) == 0:
            raise ConfigError(
                f"Channel display needs N x {len(channels)} x H x W reference images, got shape {reference.shape}."
            )
        low, high = [], []
        for c in range(len(channels)):
            lo, hi = np.percentile(reference[:, c], percentiles)
            if hi - lo < 1e-6:  # a flat channel: show it as it is instead of dividing by zero
                lo, hi = min(lo, -1.0), max(hi, lo + 1e-3)
            low.append(float(lo))
            high.append(float(hi))
        limits = []
        for c in range(len(channels)):
            magnitude = 0.0
            if differences is not None and len(differences):
                magnitude = float(np.percentile(np.abs(np.asarray(differences[:, c], dtype=np.float32)), 99))
            limits.append(max(magnitude, 1e-3))
        colours = tuple(colours) if colours is not None else tuple(default_colours(channels))
        if len(colours) != len(channels):
            raise ConfigError(f"{len(colours)} colours given for {len(channels)} channels ({', '.join(channels)}).")
        return cls(tuple(channels), colours, tuple(low), tuple(high), tuple(limits))

    def scaled(self, images: np.ndarray) -> np.ndarray:
        """N x C x H x W pixel values mapped to [0, 1] by each channel's display range."""
        images = np.asarray(images, dtype=np.float32)
        low = np.asarray(self.low, dtype=np.float32)[None, :, None, None]
        high = np.asarray(self.high, dtype=np.float32)[None, :, None, None]
        return np.clip((images - low) / (high - low), 0.0, 1.0)

    def composite(self, images: np.ndarray) -> np.ndarray:
        """N x H x W x 3 uint8: each channel in its colour, added (and clipped) like a fluorescence overlay."""
        scaled = self.scaled(images)
        colours = np.asarray(self.colours, dtype=np.float32)  # C x 3
        rgb = np.einsum("nchw,ck->nhwk", scaled, colours)
        return to_uint8(np.clip(rgb, 0.0, 1.0))

    def single(self, images: np.ndarray, channel: int) -> np.ndarray:
        """N x H x W uint8: one channel in grey, with its own display range."""
        return to_uint8(self.scaled(images)[:, channel])

    def difference_planes(self, translated: np.ndarray, source: np.ndarray) -> np.ndarray:
        """N x C x H x W uint8 levels of translated minus source, each channel on its own symmetric
        scale: 1 is -limit, 128 unchanged, 255 +limit (index `difference_palette()` for colours)."""
        delta = np.asarray(translated, dtype=np.float32) - np.asarray(source, dtype=np.float32)
        limits = np.asarray(self.difference_limit, dtype=np.float32)[None, :, None, None]
        return np.clip(np.round(128.0 + 127.0 * delta / limits), 1, 255).astype(np.uint8)

    def difference_levels(self, translated: np.ndarray, source: np.ndarray) -> np.ndarray:
        """N x H x (C*W + gaps) uint8 levels of translated minus source, one panel per channel side
        by side: 1 is -limit, 128 unchanged, 255 +limit; gaps between panels are 0 (grey). Colour them with
        `difference_palette()` (a paletted PNG is a third of the size of an RGB one)."""
        levels = self.difference_planes(translated, source)
        n, c, h, w = levels.shape
        gap = max(1, w // 16)
        strip = np.full((n, h, c * w + (c - 1) * gap), GAP_LEVEL, dtype=np.uint8)
        for k in range(c):
            strip[:, :, k * (w + gap) : k * (w + gap) + w] = levels[:, k]
        return strip

    def difference(self, translated: np.ndarray, source: np.ndarray) -> np.ndarray:
        """The difference strips of `difference_levels` in colour: N x H x (C*W + gaps) x 3 uint8."""
        return difference_palette()[self.difference_levels(translated, source)]

    def legend(self) -> list[tuple[str, str]]:
        """(channel name, CSS colour) pairs for the page's legend."""
        return [(name, css_colour(colour)) for name, colour in zip(self.channels, self.colours)]


@functools.lru_cache(maxsize=1)
def difference_palette() -> np.ndarray:
    """256 x 3 uint8 colours of the difference levels: blue (darker), white (128), red (brighter);
    level 0 (the gaps between panels) grey."""
    from matplotlib import colormaps

    colours = colormaps[DIFFERENCE_COLORMAP](np.clip((np.arange(256) - 128) / 254.0 + 0.5, 0.0, 1.0))[:, :3]
    palette = to_uint8(colours)
    palette[GAP_LEVEL] = GAP_GREY  # the level no difference takes: panels stay apart even when all white
    palette.flags.writeable = False  # shared by every caller
    return palette


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


def css_colour(colour: RGB) -> str:
    return "#" + "".join(f"{round(255 * v):02x}" for v in colour)


def png_bytes(pixels: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """One H x W (grey, or indices into `palette`: 256 x 3 uint8) or H x W x 3 (RGB) uint8 image as PNG."""
    from PIL import Image

    pixels = np.ascontiguousarray(pixels)
    if palette is None:
        image = Image.fromarray(pixels)
    else:
        image = Image.frombytes("P", (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
        image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG as a `data:` URI, so the page needs no file beside it and no network."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
