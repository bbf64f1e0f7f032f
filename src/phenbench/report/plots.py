"""The report's plots, drawn with matplotlib's Agg backend (no display) into PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from phenbench.report.plot_data import CorrelationSet, DoseSeries

REAL_STYLE = {"color": "black", "linestyle": "-", "marker": "o", "linewidth": 2.0}
CORRELATION_BINS = np.linspace(-1.0, 1.0, 21)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # a Figure without pyplot uses Agg and no global state

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(condition: str) -> str:
    """`compound@dose` -> the dose alone, since the compound is the plot's title."""
    return condition.rpartition("@")[2] if "@" in condition else condition


def dose_response_png(series: Sequence[DoseSeries], methods: Sequence[str]) -> bytes:
    """One compound: a panel per quantity, real (black) against each method's translations."""
    columns = min(len(series), 3)
    rows = -(-len(series) // columns)
    figure = _figure(4.2 * columns, 3.0 * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False)
    colours = _method_colours(methods)
    for ax, one in zip(axes.ravel(), series):
        x = np.arange(len(one.conditions))
        ax.plot(x, _nan(one.real), label="real", **REAL_STYLE)
        for label in methods:
            if label in one.translated:
                ax.plot(x, _nan(one.translated[label]), linestyle="--", marker="s", color=colours[label], label=label)
        ax.set_xticks(x, [_short(c) for c in one.conditions], rotation=30, fontsize=8)
        ax.set_title(one.quantity, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(series):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7, loc="best")
    figure.suptitle(f"{series[0].compound}: x is the dose, control first", fontsize=10)
    return _png(figure)


def correlation_histogram_png(correlations: CorrelationSet, methods: Sequence[str]) -> bytes:
    """Overlaid histograms of per-feature correlations, one outline per method."""
    figure = _figure(6.0, 3.2)
    ax = figure.subplots()
    colours = _method_colours(methods)
    for label in methods:
        values = correlations.values.get(label)
        if values is None or not len(values):
            continue
        ax.hist(np.clip(values, -1.0, 1.0), bins=CORRELATION_BINS, histtype="step", linewidth=2.0,
                color=colours[label], label=f"{label} (n={len(values)})")
    ax.set_xlabel(f"{correlations.array} ({correlations.metric})")
    ax.set_ylabel("features")
    ax.set_xlim(-1.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(figure)


def _method_colours(methods: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {label: palette(i % 10) for i, label in enumerate(methods)}


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
