"""HTML of the report's sections: each method's image and difference grids, and the plots.

Every image tile carries one picture per view (the composite, then each channel alone); the
page's view switch (pure CSS, see `template.py`) shows one view at a time. Difference tiles show
every channel side by side. All pictures are PNG data URIs, each written once in the page's style
sheet: the page needs no other file and no network.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np

from phenbench.report.data import MethodRun
from phenbench.report.figure import method_figure_html
from phenbench.report.grids import GridRow, MethodGrids, Tile, image_key
from phenbench.imaging.display import ChannelDisplay, css_colour, data_uri, difference_palette, png_bytes
from phenbench.report.plot_data import CorrelationSet, DoseSeries
from phenbench.report.plots import correlation_histogram_png, dose_response_png


class TileRenderer:
    """Turns tiles into HTML. Each distinct picture is written once, as a CSS class whose
    background is the picture: sources, real images and true counterfactuals recur in every
    method's grid, and a page that repeated them would pass its size budget much sooner."""

    def __init__(self, display: ChannelDisplay, tile_px: int):
        self.display = display
        self.tile_px = tile_px
        self.diff_panel_px = 2 * tile_px // 3  # keeps a row of every target on a laptop screen
        self._classes: dict[tuple, str] = {}  # picture key -> CSS class
        self._by_uri: dict[str, str] = {}  # data URI -> CSS class
        self._rules: list[str] = []

    def style(self) -> str:
        """The CSS of every picture written so far, and of the tile sizes."""
        # print-color-adjust: pictures are backgrounds, which browsers leave out of prints otherwise.
        sizes = (f".im {{ display: block; margin: 0 auto; background-size: 100% 100%; background-repeat: no-repeat; "
                 f"image-rendering: pixelated; print-color-adjust: exact; -webkit-print-color-adjust: exact; }}\n"
                 f".im.v {{ width: {self.tile_px}px; height: {self.tile_px}px; }}")
        return sizes + "\n" + "\n".join(self._rules)

    def tile(self, tile: Tile) -> str:
        title = escape(tile.title)
        if tile.image is not None:
            return f'<td class="tile" title="{title}">{self._views_html(tile.image, title)}</td>'
        if tile.difference_of is not None:
            translated, source = tile.difference_of

            def make() -> bytes:
                levels = self.display.difference_levels(translated[None], source[None])[0]
                return png_bytes(levels, palette=difference_palette())

            name = self._picture(("difference", image_key(translated), image_key(source)), make)
            _, h, w = np.shape(translated)
            channels = len(self.display.channels)
            strip_w = channels * w + (channels - 1) * max(1, w // 16)
            width = self.diff_panel_px * channels
            height = round(width * h / strip_w)
            return (f'<td class="tile" title="{title}"><span class="im diff {name}" role="img" aria-label="{title}" '
                    f'style="width:{width}px;height:{height}px"></span></td>')
        return f'<td class="tile empty"><span>{escape(tile.note)}</span></td>'

    def _views_html(self, image: np.ndarray, title: str) -> str:
        key = image_key(image)
        batch = np.asarray(image, dtype=np.float32)[None]
        views = [("v-composite", lambda: png_bytes(self.display.composite(batch)[0]))]
        if len(self.display.channels) > 1:
            views += [(f"v-c{c}", lambda c=c: png_bytes(self.display.single(batch, c)[0]))
                      for c in range(len(self.display.channels))]
        return "".join(
            f'<span class="im v {view} {self._picture((view, key), make)}" role="img" aria-label="{title}"></span>'
            for view, make in views
        )

    def _picture(self, key: tuple, make_png: Callable[[], bytes]) -> str:
        """The CSS class of the picture `key`, encoding it (`make_png()`) the first time."""
        if key not in self._classes:
            uri = data_uri(make_png())
            if uri not in self._by_uri:  # different inputs can look the same (e.g. all-zero differences)
                self._by_uri[uri] = f"p{len(self._by_uri)}"
                self._rules.append(f'.{self._by_uri[uri]} {{ background-image: url("{uri}"); }}')
            self._classes[key] = self._by_uri[uri]
        return self._classes[key]


def method_section(method: MethodRun, grids: MethodGrids, renderer: TileRenderer) -> str:
    """One method: its run, image grid, difference grid and any notes on what is not shown."""
    record = method.record
    preset = f", preset {escape(record.preset)}" if record.preset else ""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in grids.notes)
    images = _grid_table(grids.columns, grids.images, renderer, f"grid-{method.anchor}", "image-grid")
    differences = ""
    if grids.differences:
        differences = (
            "<h4>Difference maps: translated minus source</h4>"
            f'<p class="legend">Each cell shows every channel, left to right: {escape(", ".join(renderer.display.channels))}. '
            f"{difference_legend(renderer.display)}</p>"
            + _grid_table(grids.columns, grids.differences, renderer, f"diff-{method.anchor}", "difference-grid")
        )
    return (
        f'<section class="method" id="{method.anchor}" data-method="{escape(method.label)}">'
        f"<h3>{escape(method.label)}</h3>"
        f'<p class="run">Run {escape(record.run_id)} (translator {escape(record.translator)}{preset}, seed {record.seed}).'
        f"{escape(_cost_text(record.timings))}</p>"
        f"{notes}{method_figure_html(method, grids, renderer.display)}"
        f"<h4>Source images and their translations</h4>{images}{differences}</section>"
    )


# (timings key, how to say it): the run's cost as the runner stores it.
COSTS = (
    ("fit_seconds", "fit {} s"),
    ("fit_steps", "{} training steps"),
    ("translate_images_per_second", "translation {} images/s"),
    ("invert_seconds_per_image", "inversion {} s per source image"),
    ("nfe_per_image", "{} network evaluations per image"),
)


def _cost_text(timings: dict[str, float]) -> str:
    parts = [text.format(_quantity(timings[key])) for key, text in COSTS if isinstance(timings.get(key), (int, float))]
    return f" Cost: {', '.join(parts)}." if parts else ""


def _quantity(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _grid_table(columns: list[str], rows: list[GridRow], renderer: TileRenderer, table_id: str, css: str) -> str:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = "".join(renderer.tile(t) for t in row.tiles)
        body.append(f'<tr class="row-{row.kind}"><th scope="row">{escape(row.label)}</th>'
                    f"{renderer.tile(row.lead)}{cells}</tr>")
    return (f'<div class="grid-wrap"><table class="grid {css}" id="{escape(table_id)}">'
            f'<thead><tr><th></th><th scope="col">source</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def difference_legend(display: ChannelDisplay) -> str:
    """A colour bar per channel: blue darker than the source, white unchanged, red brighter."""
    palette = difference_palette()
    stops = ", ".join(css_colour(tuple(palette[k] / 255.0)) for k in np.linspace(0, 255, 9).astype(int))
    bars = " ".join(
        f'<span class="scale"><span class="bar-label">{escape(name)}: −{limit:.3g}</span>'
        f'<span class="bar" style="background: linear-gradient(to right, {stops})"></span>'
        f'<span class="bar-label">+{limit:.3g}</span></span>'
        for name, limit in zip(display.channels, display.difference_limit)
    )
    return f"Scale in pixel units ([-1, 1] images), blue darker, white unchanged, red brighter:<br>{bars}"


def dose_response_html(series: list[DoseSeries], methods: list[str]) -> str:
    """One figure per (compound, origin of the numbers)."""
    groups: dict[tuple[str, str], list[DoseSeries]] = {}
    for one in series:
        groups.setdefault((one.compound, one.origin), []).append(one)
    figures = []
    for (compound, origin), members in groups.items():
        n_text = f" {members[0].n_text}." if members[0].n_text else ""
        figures.append(
            f'<figure class="plot dose-response" data-compound="{escape(compound)}">'
            f'<img src="{data_uri(dose_response_png(members, methods))}" alt="dose-response of {escape(compound)}">'
            f"<figcaption>{escape(compound)}: real (black) against translated (dashed), from {escape(origin)}.{escape(n_text)}"
            "</figcaption></figure>"
        )
    return "".join(figures)


def correlation_html(sets: list[CorrelationSet], methods: list[str]) -> str:
    figures = []
    for one in sets:
        notes = []
        for label in methods:
            if label not in one.counts:
                continue
            undefined = one.undefined.get(label, 0)
            text = f"{label}: {int(one.counts[label].sum())} features with a correlation, {undefined} without"
            if one.missing.get(label):
                text += f" (median missing: {one.missing[label]})"
            notes.append(text)
        figures.append(
            f'<figure class="plot correlation-histogram" data-metric="{escape(one.metric)}">'
            f'<img src="{data_uri(correlation_histogram_png(one, methods))}" alt="histogram of feature correlations">'
            f"<figcaption>Histogram of per-feature correlations stored by metric '{escape(one.metric)}'. "
            f"{escape('; '.join(notes))}.</figcaption></figure>"
        )
    return "".join(figures)


def absent_html(what: str, reason: str) -> str:
    """The box shown where a plot's data is not in the store: never an invented plot."""
    return f'<div class="absent" data-absent="{escape(what)}"><strong>{escape(what)}: not shown.</strong> {escape(reason)}</div>'
