"""Figures for papers, one module for `phenbench translate`, `phenbench explain` and the report.

`style` decides how panels look (size, channel colours, one display range per channel for the
whole figure, difference scales), `layout` places labelled panels and draws them with matplotlib,
`series` builds the figures (a dose series with optional difference rows, a contact sheet, a grid),
and `output` writes PNG, SVG/PDF (text as text), GIF and the panels' float values.
"""

from phenbench.imaging.figures.layout import Cell, ColourBar, DrawnFigure, Layout, Row, draw
from phenbench.imaging.figures.output import save_array, save_figure, write_figure, write_frames_gif
from phenbench.imaging.figures.series import Series, contact_sheet_layout, grid_layout, series_layout
from phenbench.imaging.figures.style import FigureStyle, enlarge, fit_display, render_difference, render_panel

__all__ = [
    "Cell", "ColourBar", "DrawnFigure", "FigureStyle", "Layout", "Row", "Series", "contact_sheet_layout", "draw",
    "enlarge", "fit_display", "grid_layout", "render_difference", "render_panel", "save_array", "save_figure",
    "series_layout", "write_figure", "write_frames_gif",
]
