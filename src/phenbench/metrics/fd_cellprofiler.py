"""`fd-cellprofiler`: the Fréchet distance in a standardised CellProfiler feature space.

Like FID, but the features are CellProfiler measurements (cp-measure) standardised on the real
images: no downloaded weights, and interpretable per feature. As for FID, both sides are
subsampled to the same n (the smaller number of segmented cells), reported with the value. The distance is the same
torch-fidelity formula as FID. Per target condition (translated against real images of that
condition) with a bootstrap 95% interval, pooled over conditions, and the real-vs-real floor (two
halves of the real images). `arrays` holds, per condition, each feature's share of the mean term
((mean translated - mean real)^2, in standard deviations squared) with the feature names, so a
report can say which measurements differ most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import OptionedMetric, bundles_in_order, condition_seed, match_sizes, split_halves
from phenbench.metrics.feature_space import CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import frechet_distance_of_features, value_with_ci


@dataclass(frozen=True)
class FDCellProfilerOptions(FeatureOptions):
    """Options of `fd-cellprofiler`."""

    bootstrap: int = 50
    # Principal components of the standardised real features the distance is computed in (None: all
    # features). A covariance of ~330 features from tens of cells is mostly noise, which buries a
    # real difference under the real-vs-real floor; a few components keep the dominant variation.
    components: int | None = 10


class FDCellProfiler(OptionedMetric):
    name = "fd-cellprofiler"
    needs = frozenset({Need.REAL, Need.TRANSLATED})
    higher_is_better = False
    summary = "Fréchet distance in standardised CellProfiler features (no pretrained weights)."
    Options = FDCellProfilerOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        per_condition: dict[str, MetricValue] = {}
        floor: dict[str, MetricValue] = {}
        arrays: dict[str, np.ndarray] = {"feature_names": np.array(space.names, dtype=str)}
        pooled_t, pooled_r = [], []
        project = self._projection(space, evaluation)
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            translated = space.standardise(space.translated(target))
            real = space.standardise(space.real(target))
            if len(translated) and len(real):
                arrays[f"mean_term/{target}"] = (translated.mean(axis=0) - real.mean(axis=0)) ** 2
            translated, real = project(translated), project(real)
            if len(translated) < 2 or len(real) < 2 or translated.shape[1] == 0:
                reason = (
                    f"needs 2+ segmented real and translated images and features with variance "
                    f"(got {len(real)} real, {len(translated)} translated, {translated.shape[1]} features)"
                )
                per_condition[target] = floor[target] = MetricValue.absent(reason)
                continue
            seed = condition_seed(evaluation, target, self.name)
            half_a, half_b = split_halves(torch.from_numpy(real), seed)
            translated, real = match_sizes(translated, real, seed)
            per_condition[target] = value_with_ci(
                frechet_distance_of_features, [translated, real], n_boot=self.options.bootstrap, seed=seed,
                bounds=(0.0, float("inf")),
            )
            floor[target] = value_with_ci(
                frechet_distance_of_features, [half_a.numpy(), half_b.numpy()], n_boot=0, seed=seed
            )
            pooled_t.append(translated)
            pooled_r.append(real)
        if pooled_t:
            pooled = value_with_ci(
                frechet_distance_of_features, [np.concatenate(pooled_t), np.concatenate(pooled_r)], n_boot=0, seed=0
            )
        else:
            pooled = MetricValue.absent("no condition could be scored")
        return [MetricResult(self.name, False, per_condition, pooled, floor=floor, arrays=arrays)]

    def _projection(self, space: CellFeatureSpace, evaluation: Evaluation):
        """PCA fitted on all real images (real of every target and the sources), or the identity."""
        k = self.options.components
        reference = [space.standardise(space.real(t)) for t in evaluation.bundles]
        reference += [space.standardise(space.sources(t)) for t in evaluation.bundles]
        stacked = np.concatenate(reference) if reference else np.zeros((0, 0))
        if k is None or stacked.shape[1] <= k or len(stacked) <= k:
            return lambda x: x
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, random_state=0).fit(stacked)
        return lambda x: pca.transform(x) if len(x) else np.zeros((0, k))
