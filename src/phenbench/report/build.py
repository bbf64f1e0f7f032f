"""Assembling the HTML comparison report: `build_report(store, out_dir)` writes `out_dir/index.html`.

The page is one self-contained file (images and plots are PNG data URIs, the style is inline, there
is no script), written atomically: a temporary file renamed over the old report.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import numpy as np

from phenbench.core.errors import ConfigError, DataError
from phenbench.core.store import ResultsStore
from phenbench.report.data import MethodRun, ReportData, load_report_data
from phenbench.report.grids import MethodGrids, build_grids
from phenbench.imaging.display import ChannelDisplay, default_colours
from phenbench.report.plot_data import correlation_sets, metric_dose_series, sample_dose_series
from phenbench.report.sections import (
    TileRenderer,
    absent_html,
    correlation_html,
    dose_response_html,
    method_section,
)
from phenbench.report.table_html import comparison_table_html
from phenbench.report.template import page

REPORT_FILE = "index.html"


@dataclass(frozen=True)
class ReportOptions:
    """What the report shows and how."""

    dataset: str | None = None  # the store's only dataset when None
    sources: int = 6  # source images per method grid (rows)
    real_per_condition: int = 3  # real reference images per condition (with their reconstructions)
    colours: dict[str, str] = field(default_factory=dict)  # channel name -> colour name or #rrggbb
    tile_px: int = 80  # displayed size of one image tile, in CSS pixels
    max_megabytes: float = 20.0  # show fewer images per grid rather than write a larger page

    def __post_init__(self) -> None:
        for name in ("sources", "real_per_condition"):
            if not 0 <= getattr(self, name) <= 64:
                raise ConfigError(f"Report option {name} must be between 0 and 64, got {getattr(self, name)}.")
        if not self.max_megabytes > 0:
            raise ConfigError(f"Report option max_megabytes must be positive, got {self.max_megabytes}.")
        if not 16 <= self.tile_px <= 512:
            raise ConfigError(f"Report option tile_px must be between 16 and 512, got {self.tile_px}.")


def build_report(store: ResultsStore | str | Path, out_dir: str | Path, options: ReportOptions = ReportOptions()) -> Path:
    """Write the report of `store` to `out_dir/index.html` and return that path."""
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"Report folder {out_dir} is a file; pass --out with a folder name.")
    data = load_report_data(store, options.dataset)
    out_dir.mkdir(parents=True, exist_ok=True)  # before the slow part: an unwritable --out fails at once
    html = render_within_budget(data, options)
    target = out_dir / REPORT_FILE
    handle, temp = tempfile.mkstemp(dir=out_dir, prefix=".index-", suffix=".html.tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(html)
        # mkstemp makes the file private (0600); a report is for sharing: the usual mode under the umask.
        os.chmod(temp, 0o666 & ~current_umask())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def render_within_budget(data: ReportData, options: ReportOptions) -> str:
    """The report, with fewer grid rows where all of them would pass `options.max_megabytes`.

    Page size grows about linearly with the rows of the grids, so each retry scales the rows by
    the measured excess; the page says how many rows it shows of how many asked for.
    """
    budget = options.max_megabytes * 1e6
    shown = options
    plots = plots_html(data)  # the same at every size: drawn once
    html = render_report(data, shown, plots=plots)
    for _ in range(4):
        size = len(html.encode("utf-8"))
        if size <= budget or (shown.sources <= 1 and shown.real_per_condition <= 1):
            break
        ratio = 0.9 * budget / size
        shown = replace(
            shown,
            sources=max(1, math.floor(shown.sources * ratio)) if shown.sources else 0,
            real_per_condition=max(1, math.floor(shown.real_per_condition * ratio)) if shown.real_per_condition else 0,
        )
        html = render_report(data, shown, requested=options, plots=plots)
    return html


def render_report(
    data: ReportData,
    options: ReportOptions = ReportOptions(),
    requested: ReportOptions | None = None,
    plots: str | None = None,
) -> str:
    """The report's HTML text; `requested` is what the user asked for when `options` shows less,
    `plots` the plots section if already drawn (`plots_html`)."""
    columns = data.display_order()
    grids: dict[str, MethodGrids] = {}
    shown_sources: list[str] = []  # every method's grid starts from the same cells where it stored them
    for method in data.methods:
        grids[method.label] = build_grids(method.record.samples, columns, sources=options.sources,
                                          real_per_condition=options.real_per_condition,
                                          source_condition=_declared_source(method, data), preferred=shown_sources)
        shown_sources += [k for k in grids[method.label].source_keys if k not in shown_sources]
    display = _channel_display(data, grids, options)
    renderer = TileRenderer(display, options.tile_px)
    body = [
        '<section id="table"><h2>Comparison table</h2><h3>Pooled over conditions</h3>',
        comparison_table_html(data.table, table_id="summary-table", pooled_only=True),
        "<details><summary>Every condition (click to open)</summary>",
        comparison_table_html(data.table),
        "</details></section>",
        plots if plots is not None else plots_html(data),
        '<section id="methods"><h2>Images, per method</h2>',
        f'<p class="legend">Columns are target conditions, control first, then each compound in increasing dose. '
        f"Each channel has one display range for the whole report ({_ranges(display)}), so brightness can be "
        "compared across methods and conditions. Use “Show” at the top for the composite or a single channel.</p>",
        _shrink_note(options, requested),
        *(method_section(m, grids[m.label], renderer) for m in data.methods),
        "</section>",
    ]
    nav = [("table", "table"), ("plots", "plots"), *((m.anchor, m.label) for m in data.methods)]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"phenbench report of {escape(str(data.store.path))}, dataset {escape(data.dataset)}, written {when}."
    return page(title=f"phenbench report: {data.dataset}", display=display, nav=nav, body="".join(body),
                footer=footer, pictures=renderer.style())


def plots_html(data: ReportData) -> str:
    """The section of dose-response plots and the histogram of feature correlations."""
    labels = [m.label for m in data.methods]
    return (
        '<section id="plots"><h2>Dose response and feature correlations</h2>'
        f"{_dose_response(data, labels)}<h3>Feature correlations</h3>{_correlations(data, labels)}</section>"
    )


def _declared_source(method: MethodRun, data: ReportData) -> str | None:
    """The control, for runs whose pairs were all from the control (their sources are all control images)."""
    return data.conditions.control if method.record.configs.get("run", {}).get("pairs") == "from-control" else None


def _channel_display(data: ReportData, grids: dict[str, MethodGrids], options: ReportOptions) -> ChannelDisplay:
    """Display ranges from the real images shown (sources and references), difference ranges from
    every difference shown, colours from the options and stain names."""
    reference, differences = [], []
    for method_grids in grids.values():
        for row in method_grids.images:
            reference += [t.image for t in [row.lead, *row.tiles] if t.image is not None and row.kind in ("translated", "real")]
        for row in method_grids.differences:
            differences += [t.difference_of[0].astype(np.float32) - t.difference_of[1] for t in row.tiles if t.difference_of]
    if not reference:
        reference = [img for m in data.methods for s in m.record.samples.values() for k, v in s.items() for img in v[:1]]
    if not reference:
        raise DataError(
            f"The runs on '{data.dataset}' in {data.store.path} stored no sample images, so there is nothing to "
            "show; re-run them with samples_per_condition above 0."
        )
    colours = default_colours(data.channels, options.colours)
    return ChannelDisplay.fit(data.channels, np.stack(reference), np.stack(differences) if differences else None, colours=colours)


def _shrink_note(shown: ReportOptions, requested: ReportOptions | None) -> str:
    if requested is None or (shown.sources, shown.real_per_condition) == (requested.sources, requested.real_per_condition):
        return ""
    return (
        f'<p class="note" id="size-note">To keep this page under {requested.max_megabytes:g} MB, each grid shows '
        f"{shown.sources} of the {requested.sources} source images asked for and {shown.real_per_condition} of "
        f"{requested.real_per_condition} real images per condition (raise --max-mb or lower --sources to choose).</p>"
    )


def _ranges(display: ChannelDisplay) -> str:
    return "; ".join(f"{n} {lo:.2f} to {hi:.2f}" for n, lo, hi in zip(display.channels, display.low, display.high))


def _dose_response(data: ReportData, labels: list[str]) -> str:
    if not data.conditions.compounds():
        return absent_html("Dose-response plots", f"the conditions of '{data.dataset}' ({', '.join(data.conditions.names)}) "
                           "have no doses (no compound@concentration names), so there is no dose axis.")
    parts = []
    from_metrics = metric_dose_series(data)
    if from_metrics:
        parts.append(dose_response_html(from_metrics, labels))
    else:
        parts.append(absent_html("Dose-response of measured features",
                                 "no stored run has dose-response arrays ('real-means/<compound>' and "
                                 "'translated-means/<compound>'); run with the 'dose-response' metric to see them."))
    from_samples = sample_dose_series(data)
    if from_samples:
        parts.append(dose_response_html(from_samples, labels))
    return "".join(parts)


def _correlations(data: ReportData, labels: list[str]) -> str:
    sets = correlation_sets(data)
    if sets:
        return correlation_html(sets, labels)
    return absent_html("Histogram of feature correlations",
                       "no stored run has a histogram of feature correlations ('histogram' and "
                       "'histogram_edges' arrays); run with the 'cellprofiler' metric to see it.")
