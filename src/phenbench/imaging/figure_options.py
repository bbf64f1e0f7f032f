"""The command-line options of figures, shared by `phenbench translate` and `phenbench explain`.

Imports only click (and sits outside `figures`, whose package imports numpy): registering the
commands stays fast (`phenbench --help` loads no numpy).
"""

from __future__ import annotations

from collections.abc import Callable

import click

FORMATS = {"svg": ("svg",), "pdf": ("pdf",), "both": ("svg", "pdf"), "none": ()}


def figure_options(command: Callable) -> Callable:
    """Add --panel-px, --figure-format, --colour, --grey and --display-range to a click command."""
    options = [
        click.option("--panel-px", type=int, default=256, show_default=True,
                     help="Smallest panel side in figures, in pixels: images are enlarged by a whole factor, "
                          "nearest neighbour (0: their own size)."),
        click.option("--figure-format", type=click.Choice(list(FORMATS)), default="svg", show_default=True,
                     help="Vector copy of each figure beside its PNG, text kept as text (for papers)."),
        click.option("--colour", "colours", multiple=True, metavar="CHANNEL=COLOUR",
                     help="Colour of a channel in figures (name or #rrggbb); repeatable. "
                          "Default: DNA blue, tubulin green, actin red, others from a palette."),
        click.option("--grey", default=None, metavar="CHANNEL", help="Show only this channel, in grey."),
        click.option("--display-range", type=click.Choice(["figure", "full"]), default="figure", show_default=True,
                     help="Per channel: figure = 0.5-99.5th percentile over every panel of the figure; "
                          "full = the model's whole [-1, 1]. Either way one range for all panels."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def style_from_options(panel_px: int, figure_format: str, colours: tuple[str, ...], grey: str | None,
                       display_range: str, differences: bool = False):
    """The `FigureStyle` the options ask for (bad values are one-line errors)."""
    from phenbench.imaging.display import parse_channel_colours
    from phenbench.imaging.figures.style import FigureStyle

    return FigureStyle(panel_px=panel_px, colours=parse_channel_colours(colours), grey=grey,
                       display_range=display_range, differences=differences, vector=FORMATS[figure_format])
