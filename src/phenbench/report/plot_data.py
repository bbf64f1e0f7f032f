"""The numbers behind the report's plots, taken only from what the store holds.

Two sources, both named on the page under each plot:

- Metric arrays (`MetricResult.arrays`), written by metrics for reports, found by their names
  (any metric may store them):
  * dose-response curves: `real-means/<compound>` and `translated-means/<compound>` (doses x
    features), with `concentrations/<compound>`, `top-features/<compound>` and `feature_names`
    (as `dose-response` stores them);
  * the histogram of feature correlations: `histogram` (counts) and `histogram_edges`, with
    `undefined/<compound>` counts of features without one (as `cellprofiler` stores them).
- The stored sample images: the mean pixel value of each channel, real against translated, per
  condition in dose order. Always available, with the (small) N of images stated.

A plot whose data no stored run holds is not drawn; the page says so and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phenbench.core.conditions import condition_name
from phenbench.report.data import ReportData

MAX_FEATURES_PER_COMPOUND = 4  # dose-response features drawn per compound (the metric's strongest first)
REAL_MEANS, TRANSLATED_MEANS = "real-means/", "translated-means/"


@dataclass
class DoseSeries:
    """One quantity of one compound along its doses: real values and each method's translated values."""

    compound: str
    quantity: str
    conditions: list[str]  # the x axis: control (where stored) then the doses in increasing order
    real: list[float | None]
    translated: dict[str, list[float | None]]  # method label -> values
    origin: str  # where the numbers come from, said on the page
    n_text: str = ""


@dataclass
class CorrelationSet:
    """A metric's stored histogram of per-feature correlations, per method."""

    metric: str
    edges: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # method label -> counts per bin
    undefined: dict[str, int] = field(default_factory=dict)  # features without a correlation
    medians: dict[str, float | None] = field(default_factory=dict)  # the metric's pooled value
    missing: dict[str, str | None] = field(default_factory=dict)  # why the pooled value is missing


def dose_axes(data: ReportData) -> dict[str, list[str]]:
    """compound -> [control, dose 1, dose 2, ...]: the x axis of its dose-response plots."""
    control = [data.conditions.control] if data.conditions.control else []
    return {c: control + data.conditions.dose_series(c) for c in data.conditions.compounds()}


def sample_dose_series(data: ReportData) -> list[DoseSeries]:
    """Mean pixel value per channel along each compound's doses, from the stored sample images."""
    series = []
    for compound, axis in dose_axes(data).items():
        for c, channel in enumerate(data.channels):
            real, counts = [], []
            for condition in axis:
                images = _stored(data, condition, "real")
                real.append(float(images[:, c].mean()) if images is not None else None)
                counts.append(0 if images is None else len(images))
            translated = {}
            for method in data.methods:
                values = []
                for condition in axis:
                    images = method.record.samples.get(condition, {}).get("translated")
                    values.append(float(np.asarray(images[:, c], dtype=np.float64).mean()) if images is not None and len(images) else None)
                translated[method.label] = values
            if all(v is None for v in real) and all(all(v is None for v in vs) for vs in translated.values()):
                continue
            present = sorted({n for n in counts if n})
            n_text = f"N = {present[0]}" if len(present) == 1 else (f"N = {present[0]}–{present[-1]}" if present else "")
            series.append(DoseSeries(compound, f"mean {channel} pixel value", axis, real, translated,
                                     "stored sample images (real vs translated)", n_text + " images per point"))
    return series


def _stored(data: ReportData, condition: str, kind: str) -> np.ndarray | None:
    """`kind` images of `condition` from the first method that stored them (real images are the
    same test images for every run on the same data). Runs with `pairs: from-control` store no
    target-control samples, but every source they store is a real control image."""
    for method in data.methods:
        images = method.record.samples.get(condition, {}).get(kind)
        if images is not None and len(images):
            return np.asarray(images, dtype=np.float64)
    if kind == "real" and condition == data.conditions.control:
        for method in data.methods:
            if method.record.configs.get("run", {}).get("pairs") == "from-control" and method.record.samples:
                first = next(iter(method.record.samples.values()))
                if "source" in first and len(first["source"]):
                    return np.asarray(first["source"], dtype=np.float64)
    return None


def metric_dose_series(data: ReportData) -> list[DoseSeries]:
    """Dose-response series from metric arrays `real-means/<compound>` and `translated-means/<compound>`
    (doses x features; rows at `concentrations/<compound>`, 0 for the control; columns are the
    features `top-features/<compound>` of `feature_names`), as the `dose-response` metric stores them."""
    found: dict[tuple[str, str, str], DoseSeries] = {}
    for method in data.methods:
        for result in method.record.metrics:
            arrays = result.arrays
            names = [_text(n) for n in np.asarray(arrays.get("feature_names", [])).ravel()]
            for key in arrays:
                if not key.startswith(REAL_MEANS):
                    continue
                compound = key[len(REAL_MEANS):]
                real = np.asarray(arrays[key], dtype=np.float64)
                translated = arrays.get(TRANSLATED_MEANS + compound)
                axis = _dose_labels(data, compound, arrays.get(f"concentrations/{compound}"), len(real))
                if translated is None or axis is None or np.shape(translated) != real.shape or real.ndim != 2:
                    continue
                translated = np.asarray(translated, dtype=np.float64)
                top = np.asarray(arrays.get(f"top-features/{compound}", np.arange(real.shape[1]))).astype(int).ravel()
                for j in range(min(real.shape[1], MAX_FEATURES_PER_COMPOUND)):
                    feature = names[top[j]] if j < len(top) and 0 <= top[j] < len(names) else f"feature {j + 1}"
                    series = found.setdefault((result.name, compound, feature), DoseSeries(
                        compound, feature, axis, [_finite(v) for v in real[:, j]], {},
                        f"metric '{result.name}' (mean of standardised CellProfiler features)"))
                    series.translated[method.label] = [_finite(v) for v in translated[:, j]]
    return list(found.values())


def _dose_labels(data: ReportData, compound: str, concentrations, rows: int) -> list[str] | None:
    """Condition names of the rows of a dose-response array (the control at concentration 0)."""
    if concentrations is None:
        axis = dose_axes(data).get(compound)
        return axis if axis is not None and len(axis) == rows else None
    concentrations = np.asarray(concentrations, dtype=np.float64).ravel()
    if len(concentrations) != rows:
        return None
    control = data.conditions.control or "control"
    return [control if c == 0 else condition_name(compound, float(c)) for c in concentrations]


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def correlation_sets(data: ReportData) -> list[CorrelationSet]:
    """Histograms stored by metrics as `histogram` (counts) and `histogram_edges`, per metric."""
    sets: dict[str, CorrelationSet] = {}
    for method in data.methods:
        for result in method.record.metrics:
            counts, edges = result.arrays.get("histogram"), result.arrays.get("histogram_edges")
            if counts is None or edges is None or len(np.ravel(edges)) != len(np.ravel(counts)) + 1:
                continue
            entry = sets.setdefault(result.name, CorrelationSet(result.name, np.asarray(edges, dtype=np.float64).ravel()))
            entry.counts[method.label] = np.asarray(counts, dtype=np.float64).ravel()
            entry.undefined[method.label] = int(sum(int(np.sum(v)) for k, v in result.arrays.items() if k.startswith("undefined/")))
            entry.medians[method.label] = result.pooled.value
            entry.missing[method.label] = result.pooled.missing
    return list(sets.values())



def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
