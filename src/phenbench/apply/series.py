"""Dose-series outputs of `phenbench translate --targets all-doses COMPOUND`.

Per input: a labelled figure (the source, then each dose in order; PNG and SVG/PDF), the panels'
float values (.npy, (doses + 1) x C x S x S in the model's [-1, 1], source first) and a GIF that
steps through the panels. Per job: a contact sheet of the first inputs, drawn from those .npy files
once every process is done. Figures come from `phenbench.imaging.figures`, as `explain`'s and the
report's do. They are for looking; the per-dose images in the input's format are for measuring.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from phenbench.imaging.display import png_bytes
from phenbench.imaging.figures import FigureStyle, Series, contact_sheet_layout, draw, save_figure, series_layout
from phenbench.imaging.figures.output import figure_bytes, save_array, write_atomically, write_frames_gif


def nfe_caption(translator: str, nfes: Sequence[int]) -> str:
    """`phendiff, 12 NFE` (network evaluations per image; a range where targets differ)."""
    low, high = min(nfes), max(nfes)
    return f"{translator}, {low} NFE" if low == high else f"{translator}, {low}-{high} NFE"


def write_series_outputs(series: Series, channels: Sequence[str], style: FigureStyle,
                         missing: dict[str, Path]) -> int:
    """Write the missing outputs of one input's series (kind -> path: "figure", "figure-svg",
    "figure-pdf", "panels", "gif"); returns how many were written. Existing ones are not touched."""
    if "panels" in missing:
        save_array(series.panels(), missing["panels"])
    pictures = {kind: path for kind, path in missing.items() if kind != "panels"}
    if pictures:
        layout, _ = series_layout(series, channels, style)
        drawn = draw(layout)
        picture = drawn.rgb() if {"figure", "gif"} & set(pictures) else None  # drawn once for both
        for kind, path in pictures.items():
            if kind == "gif":
                write_frames_gif(drawn.column_frames(picture, rows=1), path)
            elif kind == "figure":
                write_atomically(path, png_bytes(picture))
            else:
                write_atomically(path, figure_bytes(drawn, path.suffix[1:]))
    return len(missing)


def write_contact_sheet(panel_files: Sequence[tuple[str, Path]], *, source: str, targets: Sequence[str],
                        caption: str, channels: Sequence[str], style: FigureStyle, paths: Sequence[Path],
                        title: str) -> None:
    """The contact sheet (rows = inputs, named; columns = source then doses) at `paths` (PNG first)."""
    sheet = [Series(panels[0], panels[1:], source, targets, name=name)
             for name, panels in ((name, np.load(path, allow_pickle=False)) for name, path in panel_files)]
    layout, _ = contact_sheet_layout(sheet, channels, style, title=title, notes=[caption])
    save_figure(draw(layout), paths[0], [path.suffix[1:] for path in paths[1:]])
