"""The numbers behind the report's plots, taken only from what the store holds.

Two sources, both named on the page under each plot:

- Metric arrays (`MetricResult.arrays`), written by metrics for reports. Arrays are found by name,
  so metrics can add them without the report changing:
  * dose-response: a metric whose name contains "dose", with arrays `<series>/<condition>` where
    `<series>` contains "real" or "translated" (a number, or one number per feature; then
    `feature_names` names the features);
  * feature correlations: any 1-D numeric array whose name contains "correlation".
- The stored sample images: the mean pixel value of each channel, real against translated, per
  condition in dose order. Always available, with the (small) N of images stated.

A plot whose data no stored run holds is not drawn; the page says so and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phenbench.report.data import ReportData

MAX_FEATURES_PER_COMPOUND = 3  # dose-response features drawn per compound (largest real effect first)


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
    """Per-feature correlations stored by a metric, per method."""

    metric: str
    array: str
    values: dict[str, np.ndarray] = field(default_factory=dict)  # method label -> finite values


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
    same test images for every run on the same data)."""
    for method in data.methods:
        images = method.record.samples.get(condition, {}).get(kind)
        if images is not None and len(images):
            return np.asarray(images, dtype=np.float64)
    return None


def metric_dose_series(data: ReportData) -> list[DoseSeries]:
    """Dose-response series from metric arrays named `<real|translated series>/<condition>`."""
    found: dict[tuple[str, str], dict] = {}  # (metric, compound) -> {"real": {cond: v}, label: {cond: v}, ...}
    names_of: dict[str, list[str]] = {}
    axes = dose_axes(data)
    for method in data.methods:
        for result in method.record.metrics:
            if "dose" not in result.name.lower():
                continue
            if "feature_names" in result.arrays:
                names_of[result.name] = [_text(n) for n in np.asarray(result.arrays["feature_names"]).ravel()]
            for key, array in result.arrays.items():
                series, _, condition = key.rpartition("/")
                kind = "real" if "real" in series.lower() else "translated" if "translated" in series.lower() else None
                if kind is None or condition not in data.conditions or not _numeric(array):
                    continue
                for compound, axis in axes.items():
                    if condition in axis:
                        slot = found.setdefault((result.name, compound), {})
                        who = "real" if kind == "real" else method.label
                        slot.setdefault(who, {})[condition] = np.atleast_1d(np.asarray(array, dtype=np.float64))
    out = []
    for (metric, compound), by_who in found.items():
        axis = axes[compound]
        width = max(len(v) for values in by_who.values() for v in values.values())
        features = _strongest_features(by_who.get("real", {}), width)
        names = names_of.get(metric, [])
        for k in features:
            label = names[k] if len(names) == width else (f"feature {k + 1}" if width > 1 else metric)
            real = [_pick(by_who.get("real", {}).get(c), k) for c in axis]
            translated = {m.label: [_pick(by_who.get(m.label, {}).get(c), k) for c in axis] for m in data.methods if m.label in by_who}
            out.append(DoseSeries(compound, label, axis, real, translated, f"metric '{metric}' (stored arrays)"))
    return out


def _strongest_features(real: dict[str, np.ndarray], width: int) -> list[int]:
    """Feature indices with the largest range of real values along the doses (all if few)."""
    if width <= MAX_FEATURES_PER_COMPOUND or not real:
        return list(range(min(width, MAX_FEATURES_PER_COMPOUND)))
    stacked = np.stack([v for v in real.values() if len(v) == width])
    spread = np.nan_to_num(np.nanmax(stacked, axis=0) - np.nanmin(stacked, axis=0), nan=-1.0)
    return [int(k) for k in np.argsort(-spread, kind="stable")[:MAX_FEATURES_PER_COMPOUND]]


def _pick(values: np.ndarray | None, k: int) -> float | None:
    if values is None or k >= len(values) or not np.isfinite(values[k]):
        return None
    return float(values[k])


def correlation_sets(data: ReportData) -> list[CorrelationSet]:
    """Every stored 1-D numeric array whose name contains "correlation", per metric and array name."""
    sets: dict[tuple[str, str], CorrelationSet] = {}
    for method in data.methods:
        for result in method.record.metrics:
            for key, array in result.arrays.items():
                if "correlation" not in key.lower() or not _numeric(array) or np.ndim(array) != 1:
                    continue
                values = np.asarray(array, dtype=np.float64)
                entry = sets.setdefault((result.name, key), CorrelationSet(result.name, key))
                entry.values[method.label] = values[np.isfinite(values)]
    return [s for s in sets.values() if any(len(v) for v in s.values.values())]


def _numeric(array: object) -> bool:
    return np.issubdtype(np.asarray(array).dtype, np.number)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
