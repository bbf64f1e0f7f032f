"""Panels on a page: rows of labelled image panels, drawn with matplotlib at exact pixel positions.

A `Layout` says what goes where (rows of cells, each with a label above and a caption below, a
label at the left of a row, a colour bar at its right, a title and notes); `draw` turns it into a
matplotlib `Figure` whose PNG holds every panel's pixels unchanged (placed with `figimage`, not
resampled) and whose SVG/PDF keeps every word as text. `DrawnFigure.boxes` says where each panel
landed, in PNG pixels from the top left.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from phenbench.imaging.display import DIFFERENCE_COLORMAP

DPI = 100  # figure pixels per inch: sizes below are in pixels, fonts in points (1 pt = DPI/72 px)
GAP = 8  # between panels
ROW_GAP = 12
MARGIN = 10
LABEL_PT, CAPTION_PT, ROW_LABEL_PT, TITLE_PT, NOTE_PT = 11.0, 9.0, 10.0, 12.0, 8.5
LINE = 1.45  # line height in font sizes
ROW_LABEL_MAX = 200  # widest row label line, in pixels
BAR_WIDTH = 14  # colour bar
EMPTY_FACE = (0.93, 0.93, 0.93)


@dataclass
class Cell:
    """One panel: H x W x 3 uint8 pixels, or None for an empty place (with `note` saying why)."""

    pixels: np.ndarray | None = None
    label: str = ""  # above the panel (the condition)
    caption: str = ""  # below it (how it was made: input, method, NFE)
    note: str = ""  # inside an empty place


@dataclass
class ColourBar:
    limit: float  # the scale runs from -limit to +limit
    label: str = ""


@dataclass
class Row:
    cells: list[Cell]
    label: str = ""  # at the left of the row
    colour_bar: ColourBar | None = None


@dataclass
class Layout:
    rows: list[Row]
    title: str = ""
    notes: list[str] = field(default_factory=list)  # lines under the panels: legend, display ranges


@dataclass
class DrawnFigure:
    figure: object  # matplotlib.figure.Figure
    width: int
    height: int
    boxes: list[list[tuple[int, int, int, int] | None]]  # per row and cell: (x, y, w, h) of the panel
    bands: list[tuple[int, int]]  # per row: (top, bottom) including its labels and captions
    columns: list[tuple[int, int]]  # per column: (left, width), labels included

    def rgb(self) -> np.ndarray:
        """The figure as an H x W x 3 uint8 picture, as its PNG would be."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(self.figure)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def column_frames(self, picture: np.ndarray, rows: int | None = None) -> list[np.ndarray]:
        """Each column of the first `rows` rows (labels and captions included) cut out of `picture`
        (from `rgb()`): the frames of an animation that steps through the columns."""
        rows = len(self.bands) if rows is None else rows
        top, bottom = self.bands[0][0], self.bands[rows - 1][1]
        return [picture[top:bottom, max(0, x - GAP // 2) : x + w + GAP // 2] for x, w in self.columns]


def _px(points: float) -> float:
    return points * DPI / 72.0


@functools.lru_cache(maxsize=4096)
def _width(text: str, points: float) -> float:
    """The drawn width of `text` in pixels (matplotlib's own font metrics, default font)."""
    from matplotlib.font_manager import FontProperties

    width, _, _ = _text_to_path().get_text_width_height_descent(text, FontProperties(size=points), ismath=False)
    return width * DPI / 72.0


@functools.lru_cache(maxsize=1)
def _text_to_path():
    from matplotlib.textpath import TextToPath

    return TextToPath()


def _wrap(text: str, width_px: float, points: float, lines: int = 2) -> list[str]:
    """`text` in at most `lines` lines of at most `width_px` (words kept whole where they fit; the
    last line shortened with an ellipsis when the text does not fit)."""
    if not text:
        return []
    wrapped: list[str] = []
    for word in text.split():
        joined = f"{wrapped[-1]} {word}" if wrapped else word
        if wrapped and _width(joined, points) <= width_px:
            wrapped[-1] = joined
        else:
            wrapped.append(word)
    if len(wrapped) > lines:
        wrapped = wrapped[: lines - 1] + [" ".join(wrapped[lines - 1 :])]
    last = wrapped[-1]
    while len(last) > 1 and _width(last, points) > width_px:  # one word too long, or the rest of the text
        last = last[:-2] + "…"
    return wrapped[:-1] + [last]


def draw(layout: Layout) -> DrawnFigure:
    """The matplotlib figure of `layout` (no pyplot: no global state, no display needed)."""
    from matplotlib.figure import Figure

    columns = max(len(row.cells) for row in layout.rows)
    panel_w = [max((r.cells[k].pixels.shape[1] for r in layout.rows if k < len(r.cells) and r.cells[k].pixels is not None),
                   default=64) for k in range(columns)]
    # Columns are as wide as the widest panel, or as the longest word where panels are small (no word
    # is cut), all alike so that panels sit evenly.
    words = [_width(word, LABEL_PT) for r in layout.rows for c in r.cells for word in c.label.split()]
    words += [_width(word, CAPTION_PT) for r in layout.rows for c in r.cells for word in c.caption.split()]
    col_w = [int(np.ceil(max(*panel_w, *(w + 4 for w in words))))] * columns
    # Row labels (file names, channels) read left to right, in a margin as wide as the longest line.
    row_labels = [_wrap(r.label, ROW_LABEL_MAX, ROW_LABEL_PT, lines=3) for r in layout.rows]
    left = MARGIN + max((int(np.ceil(_width(line, ROW_LABEL_PT))) + GAP for lines in row_labels for line in lines),
                        default=0)
    bars = [r.colour_bar for r in layout.rows if r.colour_bar is not None]
    ticks = max((_width(f"+{bar.limit:.2g}", CAPTION_PT) for bar in bars), default=0.0)
    bar_label = _px(CAPTION_PT - 1) * LINE if any(bar.label for bar in bars) else 0.0
    right = MARGIN + (int(np.ceil(GAP + BAR_WIDTH + 8 + ticks + 6 + bar_label)) if bars else 0)
    xs = [left + sum(col_w[:k]) + GAP * k for k in range(columns)]
    width = xs[-1] + col_w[-1] + right
    title = _wrap(layout.title, width - 2 * MARGIN, TITLE_PT, lines=2)
    # (hinted text at small sizes runs a little wider than the font's outline metrics: wrap short of the edge)
    notes = [line for note in layout.notes for line in _wrap(note, 0.94 * (width - 2 * MARGIN), NOTE_PT, lines=4)]

    placed = []  # (row, y of its top, label lines per cell, caption lines per cell, panel height)
    y = MARGIN + int(len(title) * _px(TITLE_PT) * LINE) + (GAP if title else 0)
    for row in layout.rows:
        labels = [_wrap(c.label, col_w[k], LABEL_PT) for k, c in enumerate(row.cells)]
        captions = [_wrap(c.caption, col_w[k], CAPTION_PT) for k, c in enumerate(row.cells)]
        height = max((c.pixels.shape[0] for c in row.cells if c.pixels is not None), default=col_w[0])
        label_h = int(max(map(len, labels), default=0) * _px(LABEL_PT) * LINE)
        caption_h = int(max(map(len, captions), default=0) * _px(CAPTION_PT) * LINE)
        placed.append((row, y, labels, captions, label_h, height, caption_h))
        y += label_h + height + caption_h + ROW_GAP
    height_px = y - ROW_GAP + MARGIN + (int(len(notes) * _px(NOTE_PT) * LINE) + GAP if notes else 0)

    # A hair over the pixel count: the canvas is int(inches * DPI) pixels, and 7.13 * 100 may be 712.99...
    figure = Figure(figsize=((width + 0.25) / DPI, (height_px + 0.25) / DPI), dpi=DPI, facecolor="white")
    text = _Text(figure, width, height_px)
    if title:
        text.lines(title, width / 2, MARGIN, TITLE_PT, "center", weight="bold")
    boxes, bands = [], []
    for row, top, labels, captions, label_h, panel_h, caption_h in placed:
        y0 = top + label_h
        row_boxes = []
        for k, cell in enumerate(row.cells):
            x0 = xs[k]
            text.lines(labels[k], x0 + col_w[k] / 2, top, LABEL_PT, "center")
            text.lines(captions[k], x0 + col_w[k] / 2, y0 + panel_h + 2, CAPTION_PT, "center", colour="#444444")
            if cell.pixels is None:
                row_boxes.append(None)
                if cell.note:
                    text.empty(x0, y0, col_w[k], panel_h, cell.note)
                continue
            h, w = cell.pixels.shape[:2]
            x0 += (col_w[k] - w) // 2
            figure.figimage(np.ascontiguousarray(cell.pixels), xo=x0, yo=height_px - y0 - h, origin="upper")
            row_boxes.append((x0, y0, w, h))
        if row.label:
            text.row_label(row_labels[len(boxes)], left - GAP, y0 + panel_h / 2)
        if row.colour_bar is not None:
            _colour_bar(figure, row.colour_bar, xs[-1] + col_w[-1] + GAP, y0, panel_h, width, height_px)
        boxes.append(row_boxes)
        bands.append((top, y0 + panel_h + caption_h))
    if notes:
        text.lines(notes, MARGIN, height_px - MARGIN - len(notes) * _px(NOTE_PT) * LINE, NOTE_PT, "left",
                   colour="#333333")
    return DrawnFigure(figure, width, height_px, boxes, bands, list(zip(xs, col_w)))


class _Text:
    """Text placed in pixels from the top left (matplotlib counts figure fractions from the bottom)."""

    def __init__(self, figure, width: int, height: int):
        self.figure, self.width, self.height = figure, width, height

    def lines(self, lines: list[str], x: float, top: float, points: float, align: str, *, colour: str = "black",
              weight: str = "normal") -> None:
        for i, line in enumerate(lines):
            y = top + i * _px(points) * LINE
            self.figure.text(x / self.width, 1 - y / self.height, line, ha=align, va="top", fontsize=points,
                             color=colour, fontweight=weight)

    def row_label(self, lines: list[str], x: float, middle: float) -> None:
        self.figure.text(x / self.width, 1 - middle / self.height, "\n".join(lines), ha="right", va="center",
                         fontsize=ROW_LABEL_PT, multialignment="right")

    def empty(self, x: float, y: float, w: float, h: float, note: str) -> None:
        from matplotlib.patches import Rectangle

        self.figure.patches.append(Rectangle((x / self.width, 1 - (y + h) / self.height), w / self.width,
                                             h / self.height, transform=self.figure.transFigure,
                                             facecolor=EMPTY_FACE, edgecolor="#bbbbbb", linewidth=0.8))
        self.figure.text((x + w / 2) / self.width, 1 - (y + h / 2) / self.height, "\n".join(_wrap(note, w - 8, CAPTION_PT, 4)),
                         ha="center", va="center", fontsize=CAPTION_PT, color="#555555", multialignment="center")


def _colour_bar(figure, bar: ColourBar, x: float, y: float, h: float, width: int, height: int) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    axes = figure.add_axes((x / width, 1 - (y + h) / height, BAR_WIDTH / width, h / height))
    mappable = ScalarMappable(Normalize(-bar.limit, bar.limit), colormaps[DIFFERENCE_COLORMAP])
    colour_bar = figure.colorbar(mappable, cax=axes, ticks=[-bar.limit, 0.0, bar.limit])
    colour_bar.ax.set_yticklabels([f"−{bar.limit:.2g}", "0", f"+{bar.limit:.2g}"], fontsize=CAPTION_PT)
    # the end labels inside the bar's height, so that the bars of rows one above the other never overlap
    for label, align in zip(colour_bar.ax.get_yticklabels(), ("bottom", "center", "top")):
        label.set_verticalalignment(align)
    if bar.label:
        colour_bar.set_label(bar.label, fontsize=CAPTION_PT - 1)
