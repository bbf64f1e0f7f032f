"""`cellprofiler`: the PhenDiff paper's CellProfiler measure of dose-wise fidelity.

Segment and measure real and translated cells (`cp_features.py`); per condition, the mean of every
feature; per treatment (compound), for every feature, the Pearson correlation between the real and
the translated means across the compound's concentrations. Reported: the median correlation per
compound and pooled over all compounds' features, and the distribution (a histogram over [-1, 1],
as in the paper) in `arrays`.

A correlation needs at least 3 concentrations (with 2, every r is +1 or -1) and means that vary:
features constant across concentrations in real or translated images have no correlation and are
left out (their count is in `arrays`). A translator that ignores the target (identity) gives the
same translated means at every concentration, hence no correlation at all: the value is missing
with that reason, not zero. The real-vs-real floor correlates the means of two halves of the real
images of each concentration (the best agreement the data's own noise allows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import OptionedMetric, condition_seed, split_halves
from phenbench.metrics.feature_space import CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import bootstrap_ci

HISTOGRAM_EDGES = np.linspace(-1.0, 1.0, 21)
MIN_CONCENTRATIONS = 3


def feature_correlations(real_means: np.ndarray, translated_means: np.ndarray) -> np.ndarray:
    """Per-feature Pearson r between two (concentrations x features) tables; NaN where undefined."""
    a = real_means - real_means.mean(axis=0)
    b = translated_means - translated_means.mean(axis=0)
    norm = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    scale = np.maximum(np.abs(real_means).max(axis=0), np.abs(translated_means).max(axis=0)) + 1e-12
    defined = (np.sqrt((a**2).sum(axis=0)) > 1e-9 * scale) & (np.sqrt((b**2).sum(axis=0)) > 1e-9 * scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / norm
    return np.where(defined, np.clip(r, -1.0, 1.0), np.nan)


@dataclass(frozen=True)
class CellProfilerOptions(FeatureOptions):
    """Options of `cellprofiler`."""

    bootstrap: int = 100  # resamples of the cells of every concentration for the 95% interval


class CellProfilerCorrelation(OptionedMetric):
    name = "cellprofiler"
    needs = frozenset({Need.REAL, Need.TRANSLATED})
    higher_is_better = True
    summary = "Per compound, Pearson r of real vs translated CellProfiler feature means across doses."
    Options = CellProfilerOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        per_compound: dict[str, MetricValue] = {}
        floor: dict[str, MetricValue] = {}
        arrays: dict[str, np.ndarray] = {
            "histogram_edges": HISTOGRAM_EDGES, "feature_names": np.array(space.names, dtype=str),
        }
        everything = []
        for compound in evaluation.conditions.compounds():
            doses = [c for c in evaluation.conditions.dose_series(compound) if c in evaluation.bundles]
            if len(doses) < MIN_CONCENTRATIONS:
                per_compound[compound] = floor[compound] = MetricValue.absent(
                    f"needs {MIN_CONCENTRATIONS}+ concentrations among the targets, got {len(doses)}"
                )
                continue
            real = [space.standardise(space.real(d)) for d in doses]
            translated = [space.standardise(space.translated(d)) for d in doses]
            if min(len(x) for x in real + translated) < 2:
                per_compound[compound] = floor[compound] = MetricValue.absent("a concentration has <2 segmented images")
                continue
            r = feature_correlations(np.stack([x.mean(0) for x in real]), np.stack([x.mean(0) for x in translated]))
            n = sum(len(x) for x in translated)
            arrays[f"r/{compound}"] = r
            arrays[f"histogram/{compound}"] = np.histogram(r[np.isfinite(r)], HISTOGRAM_EDGES)[0]
            arrays[f"undefined/{compound}"] = np.array([int(np.isnan(r).sum())])
            per_compound[compound] = self._median(r, n, "translated feature means do not vary across concentrations")
            if per_compound[compound].value is not None:
                per_compound[compound] = self._with_interval(per_compound[compound], real, translated,
                                                             condition_seed(evaluation, compound, self.name))
            floor[compound] = self._floor(evaluation, compound, doses, real)
            everything.append(r)
        if everything:
            stacked = np.concatenate(everything)
            arrays["histogram"] = np.histogram(stacked[np.isfinite(stacked)], HISTOGRAM_EDGES)[0]
            pooled = self._median(stacked, sum(v.n for v in per_compound.values()), "no feature has a correlation")
        else:
            pooled = MetricValue.absent("no compound has enough concentrations among the targets")
        return [MetricResult("cellprofiler/median-r", True, per_compound, pooled, floor=floor, arrays=arrays)]

    @staticmethod
    def _median(r: np.ndarray, n: int, why_missing: str) -> MetricValue:
        finite = r[np.isfinite(r)]
        if len(finite) == 0:
            return MetricValue.absent(f"{why_missing} (e.g. the identity translator)", n=n)
        return MetricValue(value=float(np.median(finite)), n=n)

    def _with_interval(self, value: MetricValue, real: list[np.ndarray], translated: list[np.ndarray],
                       seed: int) -> MetricValue:
        levels = len(real)

        def median_r(*samples: np.ndarray) -> float:
            r = feature_correlations(np.stack([x.mean(0) for x in samples[:levels]]),
                                     np.stack([x.mean(0) for x in samples[levels:]]))
            return float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan")

        low, high = bootstrap_ci(median_r, [*real, *translated], n_boot=self.options.bootstrap, seed=seed,
                                 bounds=(-1.0, 1.0))
        return MetricValue(value=value.value, n=value.n, ci_low=low, ci_high=high)

    def _floor(self, evaluation: Evaluation, compound: str, doses: list[str], real: list[np.ndarray]) -> MetricValue:
        halves = [
            split_halves(torch.from_numpy(x), condition_seed(evaluation, d, "cp-floor")) for x, d in zip(real, doses)
        ]
        if min(len(a) for a, _ in halves) < 1:
            return MetricValue.absent("too few real images to split in two")
        r = feature_correlations(np.stack([a.numpy().mean(0) for a, _ in halves]),
                                 np.stack([b.numpy().mean(0) for _, b in halves]))
        return self._median(r, sum(len(a) for a, _ in halves), "real means do not vary")
