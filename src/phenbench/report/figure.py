"""A paper figure per method: its first source cell through every condition it was translated to.

Drawn by `phenbench.imaging.figures` (the figure `phenbench translate --targets all-doses` writes
for a user's own cells), through the page's own channel display, so its colours and ranges are
those of the grids under it. Embedded as a PNG, like the plots.
"""

from __future__ import annotations

from html import escape

from phenbench.imaging.display import ChannelDisplay, data_uri
from phenbench.imaging.figures import FigureStyle, Series, draw, series_layout
from phenbench.imaging.figures.output import figure_bytes
from phenbench.report.data import MethodRun
from phenbench.report.grids import MethodGrids

# Panels of at least 96 px: big enough for their labels, small enough for the page's size budget.
REPORT_STYLE = FigureStyle(panel_px=96, differences=True, vector=())


def method_figure_html(method: MethodRun, grids: MethodGrids, display: ChannelDisplay) -> str:
    """The figure of the method's first source row, or nothing where it has no translations."""
    row = next((r for r in grids.images if r.kind == "translated"), None)
    if row is None or row.lead.image is None:
        return ""
    shown = [(column, tile.image) for column, tile in zip(grids.columns, row.tiles) if tile.image is not None]
    if not shown:
        return ""
    nfe = method.record.timings.get("nfe_per_image")
    caption = method.record.translator + (f", {nfe:.0f} NFE" if isinstance(nfe, (int, float)) else "")
    series = Series(row.lead.image, [image for _, image in shown], row.lead.title, [c for c, _ in shown],
                    caption=caption, source_caption="real", name=f"{method.label}: {row.label}")
    layout, _ = series_layout(series, display.channels, REPORT_STYLE, display=display)
    png = figure_bytes(draw(layout), "png")
    return (
        f'<figure class="method-figure"><img src="{data_uri(png)}" alt="{escape(method.label)}: source 1 through '
        f'every condition"><figcaption>{escape(row.label)} as a figure: the source, then each condition it was '
        "translated to, with translated minus source per channel underneath; the same display ranges as the "
        "grids below. <code>phenbench translate --targets all-doses COMPOUND</code> draws this figure (PNG and SVG "
        "or PDF) for your own cells.</figcaption></figure>"
    )
