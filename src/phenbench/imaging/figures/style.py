"""How a figure shows its panels: size, channel colours, one display range per channel, differences.

Every panel of a figure is drawn through one `ChannelDisplay`, fitted once over all the figure's
images, so a translation that brightens a channel looks brighter than its source instead of being
re-normalised away. Panels are enlarged by a whole factor with nearest-neighbour repetition:
every screen pixel is one image pixel, nothing is smoothed or invented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from phenbench.core.errors import ConfigError
from phenbench.imaging.display import NAMED_COLOURS, ChannelDisplay, css_colour, default_colours, difference_palette

DISPLAY_RANGES = ("figure", "full")
VECTOR_FORMATS = ("svg", "pdf")


@dataclass(frozen=True)
class FigureStyle:
    """The look of a figure; the same options for `translate`, `explain` and the report."""

    panel_px: int = 256  # smallest panel side on screen; 0 = the images' own size
    colours: dict[str, str] = field(default_factory=dict)  # channel -> colour name or #rrggbb
    grey: str | None = None  # show only this channel, in grey
    # "figure": 0.5th-99.5th percentile per channel over every panel of the figure; "full": [-1, 1]
    display_range: str = "figure"
    differences: bool = False  # add a row per channel: translated minus source
    vector: tuple[str, ...] = ("svg",)  # written beside the PNG, text kept as text

    def __post_init__(self) -> None:
        if not 0 <= self.panel_px <= 4096:
            raise ConfigError(f"Panel size must be between 0 and 4096 pixels, got {self.panel_px}.")
        if self.display_range not in DISPLAY_RANGES:
            raise ConfigError(f"Display range '{self.display_range}' is not one of {', '.join(DISPLAY_RANGES)}.")
        unknown = [f for f in self.vector if f not in VECTOR_FORMATS]
        if unknown:
            raise ConfigError(f"Figure format '{unknown[0]}' is not one of {', '.join(VECTOR_FORMATS)}.")

    def to_dict(self) -> dict[str, object]:
        """What decides a figure's pixels and files, for a translate job's record."""
        return {"panel_px": self.panel_px, "colours": dict(sorted(self.colours.items())), "grey": self.grey,
                "display_range": self.display_range, "differences": self.differences, "vector": list(self.vector)}

    def factor(self, size: int) -> int:
        """The whole enlargement factor that brings a `size`-pixel image to at least `panel_px`."""
        return max(1, math.ceil(self.panel_px / size)) if self.panel_px else 1

    def shown_channels(self, channels: Sequence[str]) -> list[int]:
        """Indices of the channels the panels show: all, or the one asked for in grey."""
        if self.grey is None:
            return list(range(len(channels)))
        if self.grey not in channels:
            raise ConfigError(f"Grey channel '{self.grey}' is not one of the channels {', '.join(channels)}.")
        return [list(channels).index(self.grey)]


def fit_display(channels: Sequence[str], images: np.ndarray, style: FigureStyle,
                differences: np.ndarray | None = None) -> ChannelDisplay:
    """One display range per channel for every panel of a figure (N x C x H x W images in [-1, 1]),
    and one symmetric difference scale per channel (99th percentile of |difference|, as the report)."""
    colours = default_colours(channels, style.colours)
    display = ChannelDisplay.fit(channels, images, differences, colours=colours)
    if style.display_range == "full":
        display = replace(display, low=(-1.0,) * len(channels), high=(1.0,) * len(channels))
    return display


def enlarge(pixels: np.ndarray, factor: int) -> np.ndarray:
    """H x W (x 3) -> (H*factor) x (W*factor) (x 3): each pixel repeated, nearest neighbour."""
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1) if factor > 1 else pixels


def render_panel(display: ChannelDisplay, image: np.ndarray, style: FigureStyle, factor: int) -> np.ndarray:
    """One C x H x W image as an enlarged H' x W' x 3 uint8 panel: the colour composite, or the
    `style.grey` channel alone in grey."""
    batch = np.asarray(image, dtype=np.float32)[None]
    if style.grey is None:
        pixels = display.composite(batch)[0]
    else:
        grey = display.single(batch, style.shown_channels(display.channels)[0])[0]
        pixels = np.repeat(grey[:, :, None], 3, axis=2)
    return enlarge(pixels, factor)


def render_difference(display: ChannelDisplay, translated: np.ndarray, source: np.ndarray, channel: int,
                      factor: int) -> np.ndarray:
    """Translated minus source in one channel, on the diverging scale (blue darker, white unchanged,
    red brighter; +-`display.difference_limit[channel]` at full colour), enlarged."""
    levels = display.difference_planes(np.asarray(translated)[None], np.asarray(source)[None])[0, channel]
    return enlarge(difference_palette()[levels], factor)


def colour_note(display: ChannelDisplay, style: FigureStyle) -> str:
    """The figure's legend line: which colour is which channel, and each channel's display range."""
    shown = style.shown_channels(display.channels)
    if style.grey is not None:
        c = shown[0]
        return (f"{display.channels[c]} alone, in grey; display range (the model's [-1, 1] units, black to white): "
                f"{display.low[c]:.2f} to {display.high[c]:.2f}, the same for every panel.")
    names = {rgb: name for name, rgb in NAMED_COLOURS.items() if name != "gray"}  # white's twin: "grey" wins
    parts = []
    for c in shown:
        colour = names.get(display.colours[c], css_colour(display.colours[c]))
        parts.append(f"{display.channels[c]} {colour} {display.low[c]:.2f} to {display.high[c]:.2f}")
    return ("Colours and display ranges (the model's [-1, 1] units, black to full colour, the same for every "
            f"panel): {'; '.join(parts)}.")

