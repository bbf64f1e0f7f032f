"""The report's plots, drawn with matplotlib's Agg backend (no display) into PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from phenbench.report.plot_data import CorrelationSet, DoseSeries

REAL_STYLE = {"color": "black", "linestyle": "-", "marker": "o", "linewidth": 2.0}


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
    columns = min(len(series), 4)
    rows = -(-len(series) // columns)
    figure = _figure(2.15 * columns + 0.2, 2.3 * rows + 0.35)
    axes = figure.subplots(rows, columns, squeeze=False)
    colours = _method_colours(methods)
    for ax, one in zip(axes.ravel(), series):
        x = np.arange(len(one.conditions))
        ax.plot(x, _nan(one.real), label="real", **REAL_STYLE)
        for label in methods:
            if label in one.translated:
                ax.plot(x, _nan(one.translated[label]), linestyle="--", marker="s", color=colours[label], label=label)
        ax.set_xticks(x, [_short(c) for c in one.conditions], rotation=30, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(one.quantity, fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(series):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=6, loc="best")
    figure.suptitle(f"{series[0].compound} (x: dose, control first)", fontsize=9)
    return _png(figure)


def correlation_histogram_png(correlations: CorrelationSet, methods: Sequence[str]) -> bytes:
    """The metric's stored histograms, one outline per method, with its median as a dotted line."""
    figure = _figure(6.4, 3.4)
    ax = figure.subplots()
    colours = _method_colours(methods)
    for label in methods:
        counts = correlations.counts.get(label)
        if counts is None:
            continue
        ax.stairs(counts, correlations.edges, linewidth=2.0, color=colours[label], label=f"{label} ({int(counts.sum())} features)")
        median = correlations.medians.get(label)
        if median is not None:
            ax.axvline(median, color=colours[label], linestyle=":", linewidth=1.5)
    ax.set_xlabel(f"per-feature correlation, real vs translated ({correlations.metric}); dotted: median")
    ax.set_ylabel("features")
    ax.set_xlim(float(correlations.edges[0]), float(correlations.edges[-1]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return _png(figure)


def _method_colours(methods: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {label: palette(i % 10) for i, label in enumerate(methods)}


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
