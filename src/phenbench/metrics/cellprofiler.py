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
with that reason, not zero. For that to hold at any N, the translated cells of every
concentration are subsampled at the same positions and to the same size.

Floors at matched N: the real cells of each concentration are split into halves A and B; the
method correlates the means of h translated cells with those of B, the floor those of A with B
(h the same for every concentration of the compound): noise in the means pulls a correlation
towards 0 alike on both rows. Pooled: the median over every scorable compound's features, only
when every compound with 3+ concentrations among the targets was scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, condition_seed
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, FeatureOptions
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
class CellProfilerOptions(FeatureOptions, BootstrapOptions):
    """Options of `cellprofiler`."""


class CellProfilerCorrelation(CellFeatureMetric, OptionedMetric):
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
        everything, floors, scorable = [], [], []
        for compound in evaluation.conditions.compounds():
            doses = [c for c in evaluation.conditions.dose_series(compound) if c in evaluation.bundles]
            if len(doses) < MIN_CONCENTRATIONS:
                per_compound[compound] = floor[compound] = MetricValue.absent(
                    f"needs {MIN_CONCENTRATIONS}+ concentrations among the targets, got {len(doses)}"
                )
                continue
            scorable.append(compound)
            real = [space.real(d) for d in doses]
            translated = [space.translated(d) for d in doses]
            size = min([len(t) for t in translated] + [0 if r is None else len(r) // 2 for r in real])
            if size < 2:
                per_compound[compound] = floor[compound] = MetricValue.absent(
                    "a concentration has fewer than 2 translated or 4 real cells with a plausible cell")
                continue
            seed = condition_seed(evaluation, compound, self.name)
            halves_a, halves_b, picked = [], [], []
            for i, (r, t) in enumerate(zip(real, translated)):
                order = np.random.default_rng(seed + i).permutation(len(r))
                half = len(r) // 2
                halves_a.append((r.x[order[:size]], r.measured_units[order[:size]]))
                halves_b.append((r.x[order[half : half + size]], r.measured_units[order[half : half + size]]))
                # The same positions at every concentration: an identity translator's sets stay identical.
                rows = np.sort(np.random.default_rng(seed).choice(len(t), size=size, replace=False))
                picked.append((t.x[rows], t.measured_units[rows]))
            means = lambda sets: np.stack([x.mean(0) for x, _ in sets])  # noqa: E731
            r = feature_correlations(means(halves_b), means(picked))
            n = size * len(doses)
            arrays[f"r/{compound}"] = r
            arrays[f"histogram/{compound}"] = np.histogram(r[np.isfinite(r)], HISTOGRAM_EDGES)[0]
            arrays[f"undefined/{compound}"] = np.array([int(np.isnan(r).sum())])
            per_compound[compound] = self._median(r, n, "translated feature means do not vary across concentrations")
            if per_compound[compound].value is not None:
                per_compound[compound] = self._with_interval(per_compound[compound], halves_b, picked, seed)
            floor_r = feature_correlations(means(halves_b), means(halves_a))
            floor[compound] = self._median(floor_r, n, "real means do not vary")
            everything.append(r)
            floors.append(floor_r)
        missing = [c for c in scorable if per_compound[c].value is None]
        if everything:
            stacked = np.concatenate(everything)
            arrays["histogram"] = np.histogram(stacked[np.isfinite(stacked)], HISTOGRAM_EDGES)[0]
        if not scorable:
            pooled = MetricValue.absent("no compound has enough concentrations among the targets")
        elif missing:
            pooled = MetricValue.absent(f"missing for {', '.join(missing)}: {per_compound[missing[0]].missing}")
        else:
            pooled = self._median(np.concatenate(everything), sum(per_compound[c].n for c in scorable),
                                  "no feature has a correlation")
            floor["pooled"] = self._median(np.concatenate(floors), pooled.n, "real means do not vary")
        return [MetricResult("cellprofiler/median-r", True, per_compound, pooled, floor=floor, arrays=arrays)]

    @staticmethod
    def _median(r: np.ndarray, n: int, why_missing: str) -> MetricValue:
        finite = r[np.isfinite(r)]
        if len(finite) == 0:
            return MetricValue.absent(f"{why_missing} (e.g. the identity translator)", n=n)
        return MetricValue(value=float(np.median(finite)), n=n)

    def _with_interval(self, value: MetricValue, real: list[tuple], translated: list[tuple], seed: int) -> MetricValue:
        levels = len(real)

        def median_r(*samples: np.ndarray) -> float:
            r = feature_correlations(np.stack([x.mean(0) for x in samples[:levels]]),
                                     np.stack([x.mean(0) for x in samples[levels:]]))
            return float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan")

        sets = [*real, *translated]
        interval = bootstrap_ci(median_r, [x for x, _ in sets], n_boot=self.options.bootstrap, seed=seed,
                                groups=[u for _, u in sets], bounds=(-1.0, 1.0))
        return MetricValue(value=value.value, n=value.n, ci_low=interval.low, ci_high=interval.high,
                           ci_missing=interval.missing)
