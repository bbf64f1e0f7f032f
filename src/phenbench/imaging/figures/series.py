"""The figures themselves: one cell through a dose series, and grids (contact sheets, walks).

A dose series is the source panel, then one panel per dose in dose order, each labelled with its
condition and captioned with how it was made; optionally one row per channel of translated minus
source under it. A grid is rows of cells (a contact sheet's inputs, a walk's samples) by columns
(doses, steps), labelled once at the top. Both fit one display range per channel over every
panel they show (`style.fit_display`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from phenbench.core.errors import ConfigError
from phenbench.imaging.display import ChannelDisplay
from phenbench.imaging.figures.layout import Cell, ColourBar, Layout, Row
from phenbench.imaging.figures.style import (
    FigureStyle,
    colour_note,
    fit_display,
    render_difference,
    render_panel,
)

DIFFERENCE_NOTE = ("Difference rows: translated minus source in each channel, blue darker, white unchanged, red "
                   "brighter; one symmetric scale per channel for the whole figure (99th percentile of |difference|), "
                   "in the model's [-1, 1] pixel units.")


@dataclass
class Series:
    """One cell through a dose series: its source image and its translations, lowest dose first."""

    source: np.ndarray  # C x H x W, the model's [-1, 1] values
    translated: np.ndarray  # D x C x H x W
    source_label: str  # the source condition, e.g. "DMSO"
    targets: Sequence[str]  # the D condition names, in the order of `translated`
    caption: str = ""  # under every translated panel: the method and its network evaluations
    source_caption: str = "input"
    name: str = ""  # the figure's title: which cell this is

    def __post_init__(self) -> None:
        if len(self.translated) != len(self.targets):
            raise ConfigError(f"A series of {len(self.targets)} conditions got {len(self.translated)} images.")

    def panels(self) -> np.ndarray:
        """(D + 1) x C x H x W: the source first, then each dose (the values every panel shows)."""
        return np.concatenate([np.asarray(self.source, dtype=np.float32)[None],
                               np.asarray(self.translated, dtype=np.float32)])


def series_layout(series: Series, channels: Sequence[str], style: FigureStyle, notes: Sequence[str] = (),
                  display: ChannelDisplay | None = None) -> tuple[Layout, ChannelDisplay]:
    """The layout of one dose series, and the display every panel of it went through (`display`:
    one fitted elsewhere, e.g. over a whole report, instead of over this figure's panels)."""
    panels = series.panels()
    differences = panels[1:] - panels[:1]
    display = display or fit_display(channels, panels, style, differences)
    factor = style.factor(panels.shape[-1])
    cells = [Cell(render_panel(display, panels[0], style, factor), series.source_label, series.source_caption)]
    cells += [Cell(render_panel(display, image, style, factor), target, series.caption)
              for image, target in zip(panels[1:], series.targets)]
    rows = [Row(cells)]
    if style.differences:
        for c in style.shown_channels(channels):
            diff_cells = [Cell()] + [
                Cell(render_difference(display, image, panels[0], c, factor)) for image in panels[1:]]
            rows.append(Row(diff_cells, label=f"{channels[c]} difference",
                            colour_bar=ColourBar(display.difference_limit[c])))
    notes = [colour_note(display, style), *([DIFFERENCE_NOTE] if style.differences else []), *notes]
    return Layout(rows, title=series.name, notes=notes), display


def grid_layout(images: np.ndarray, channels: Sequence[str], style: FigureStyle, *, column_labels: Sequence[str],
                row_labels: Sequence[str] = (), title: str = "", notes: Sequence[str] = ()) -> tuple[Layout, ChannelDisplay]:
    """Rows x columns of panels (R x K x C x H x W), the columns labelled once above the first row."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 5 or images.shape[1] != len(column_labels):
        raise ConfigError(f"A grid of {len(column_labels)} columns got images of shape {images.shape}.")
    display = fit_display(channels, images.reshape(-1, *images.shape[2:]), style)
    factor = style.factor(images.shape[-1])
    rows = []
    for r, row in enumerate(images):
        cells = [Cell(render_panel(display, image, style, factor), column_labels[k] if r == 0 else "")
                 for k, image in enumerate(row)]
        rows.append(Row(cells, label=row_labels[r] if r < len(row_labels) else ""))
    return Layout(rows, title=title, notes=[colour_note(display, style), *notes]), display


def contact_sheet_layout(sheet: Sequence[Series], channels: Sequence[str], style: FigureStyle, *, title: str = "",
                         notes: Sequence[str] = ()) -> tuple[Layout, ChannelDisplay]:
    """Several cells' series on one page: a row per cell (named at its left), a column per dose."""
    if not sheet:
        raise ConfigError("A contact sheet needs at least one series.")
    first = sheet[0]
    return grid_layout(np.stack([s.panels() for s in sheet]), channels, style,
                       column_labels=[f"{first.source_label} ({first.source_caption})", *first.targets],
                       row_labels=[s.name for s in sheet], title=title,
                       notes=[n for n in (first.caption, *notes) if n])
