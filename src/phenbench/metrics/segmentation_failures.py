"""`segmentation-failures`: the share of translated images in which no plausible cell is found.

A translator whose outputs are blank, noise, or miss a channel produces images that the
CellProfiler pipeline cannot measure (`cp_features.py` says what a plausible cell is). Every
CellProfiler-based measure is computed on the cells that were measured; this measure says how
many were not, for every method, so that a method cannot look good by producing images that drop
out. Per target condition: the share of its scored translated images (the bundle's subsample, as
the other CellProfiler measures use) without a plausible cell, with a bootstrap interval over
source images; pooled: over every translated image. The floor is the same share among the real
images of the target: what the pipeline loses on real cells. `arrays["reasons/<condition>"]`
counts the failures by reason (`arrays["reason_names"]`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed
from phenbench.metrics.cp_features import FAILURES
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import value_with_ci


@dataclass(frozen=True)
class SegmentationFailuresOptions(FeatureOptions, BootstrapOptions):
    """Options of `segmentation-failures`."""


def failure_share(failed: np.ndarray) -> float:
    return float(np.mean(failed)) if len(failed) else float("nan")


class SegmentationFailures(CellFeatureMetric, OptionedMetric):
    name = "segmentation-failures"
    needs = frozenset({Need.REAL, Need.TRANSLATED})
    higher_is_better = False
    summary = "Share of translated images without a plausible cell (blank, noise, a missing channel)."
    Options = SegmentationFailuresOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        per_condition: dict[str, MetricValue] = {}
        floor: dict[str, MetricValue] = {}
        arrays: dict[str, np.ndarray] = {"reason_names": np.array(FAILURES[1:], dtype=str)}
        all_failed, all_units, real_failed = [], [], []
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            translated = space.translated(target)
            failed = (~translated.measured).astype(float)
            per_condition[target] = value_with_ci(
                failure_share, [failed], n_boot=self.options.bootstrap, seed=condition_seed(evaluation, target, self.name),
                groups=[translated.units], bounds=(0.0, 1.0), n=translated.total,
            )
            arrays[f"reasons/{target}"] = np.bincount(translated.failures, minlength=len(FAILURES))[1:]
            all_failed.append(failed)
            all_units.append(translated.units)
            real = space.real(target)
            if real is None or real.total == 0:
                floor[target] = MetricValue.absent("no real images of this condition")
            else:
                real_failed.append((~real.measured).astype(float))
                floor[target] = MetricValue(failure_share(real_failed[-1]), n=real.total)
        if not per_condition:
            pooled = MetricValue.absent("no target conditions were scored")
        else:
            pooled = value_with_ci(
                failure_share, [np.concatenate(all_failed)], n_boot=self.options.bootstrap,
                seed=condition_seed(evaluation, "pooled", self.name), groups=[np.concatenate(all_units)],
                bounds=(0.0, 1.0),
            )
        if real_failed and len(real_failed) == len(per_condition):
            floor["pooled"] = MetricValue(failure_share(np.concatenate(real_failed)), n=sum(map(len, real_failed)))
        return [MetricResult(self.name, False, per_condition, pooled, floor=floor, arrays=arrays, unit="share")]
