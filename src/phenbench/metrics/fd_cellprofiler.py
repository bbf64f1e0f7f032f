"""`fd-cellprofiler`: the Fréchet distance in a standardised CellProfiler feature space.

Like FID, but the features are CellProfiler measurements (cp-measure) standardised on the real
images: no downloaded weights, and interpretable per feature. The distance is the same
torch-fidelity formula as FID, in the first `components` principal components of the real cells.

Floors at matched N: the real images of the target are split into halves A and B; the method is
scored as h translated cells against B and the floor as A against B, with h = min(|A|, #translated
cells) on every side, so the small-sample bias of a Fréchet distance is the same on both rows.
Per target condition with a bootstrap 95% interval (source images and fields resampled); pooled
(all conditions' cells together, with its interval and floor) only when every condition was
scored. `arrays` holds, per condition, each feature's (mean translated - mean real)^2 in SD^2 with
the feature names, so a report can say which measurements differ most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import (
    BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, matched_halves, unscored,
)
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import frechet_distance_of_features, value_with_ci

DISTANCE = (0.0, float("inf"))


@dataclass(frozen=True)
class FDCellProfilerOptions(FeatureOptions, BootstrapOptions):
    """Options of `fd-cellprofiler`."""
    # Principal components of the standardised real features the distance is computed in (None: all
    # features). A covariance of ~330 features from tens of cells is mostly noise, which buries a
    # real difference under the real-vs-real floor; a few components keep the dominant variation.
    components: int | None = 10


class FDCellProfiler(CellFeatureMetric, OptionedMetric):
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
        pooled_parts: list[tuple] = []
        project = self._projection(space, evaluation)
        boot = self.options.bootstrap
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            translated, real = space.translated(target), space.real(target)
            if real is None or len(translated) < 2 or len(real) < 4 or translated.x.shape[1] == 0:
                reason = (
                    f"needs 2+ measured translated and 4+ measured real cells and features with variance (got "
                    f"{0 if real is None else len(real)} real, {len(translated)} translated, {translated.x.shape[1]} features)"
                )
                per_condition[target] = floor[target] = MetricValue.absent(reason)
                continue
            arrays[f"mean_term/{target}"] = (translated.x.mean(axis=0) - real.x.mean(axis=0)) ** 2
            seed = condition_seed(evaluation, target, self.name)
            t_rows, a_rows, b_rows = matched_halves(len(translated), len(real), seed)
            t, a, b = project(translated.x[t_rows]), project(real.x[a_rows]), project(real.x[b_rows])
            units = (translated.measured_units[t_rows], real.measured_units[a_rows], real.measured_units[b_rows])
            per_condition[target] = value_with_ci(frechet_distance_of_features, [t, b], n_boot=boot, seed=seed,
                                                  groups=[units[0], units[2]], bounds=DISTANCE)
            floor[target] = value_with_ci(frechet_distance_of_features, [a, b], n_boot=0, seed=seed)
            pooled_parts.append((t, a, b, *units))
        pooled = unscored(per_condition)
        if pooled is None:
            t, a, b, t_units, _, b_units = (np.concatenate(part) for part in zip(*pooled_parts))
            pooled = value_with_ci(frechet_distance_of_features, [t, b], n_boot=boot,
                                   seed=condition_seed(evaluation, "pooled", self.name), groups=[t_units, b_units],
                                   bounds=DISTANCE)
            floor["pooled"] = value_with_ci(frechet_distance_of_features, [a, b], n_boot=0, seed=0)
        return [MetricResult(self.name, False, per_condition, pooled, floor=floor, arrays=arrays)]

    def _projection(self, space: CellFeatureSpace, evaluation: Evaluation):
        """PCA fitted on all real images (real of every target and the sources), or the identity."""
        k = self.options.components
        reference = [cells.x for cells in (space.real(t) for t in evaluation.bundles) if cells is not None]
        reference += [space.sources(t).x for t in evaluation.bundles]
        stacked = np.concatenate(reference) if reference else np.zeros((0, 0))
        if k is None or stacked.shape[1] <= k or len(stacked) <= k:
            return lambda x: x
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, random_state=0).fit(stacked)
        return lambda x: pca.transform(x) if len(x) else np.zeros((0, k))
