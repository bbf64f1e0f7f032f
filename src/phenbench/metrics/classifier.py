"""`classifier`: does a condition classifier trained on real cells recognise the translated ones?

A logistic regression (scikit-learn) on standardised CellProfiler features is trained on the real
training images of every condition (`Need.REAL_TRAIN`). `classifier/target-share`, per target
condition: the share of translated images classified as their target. Its reference (the "floor"
row of tables) is the real share: held-out real test images of the target classified as it, on
the same K-class scale; a translator that generalises cannot beat the classifier's accuracy on
real cells. A value above it means the translations look like the classifier's own training
cells: the `real-target` baseline, which returns training images, scores 1.0 on the synthetic
world against a real share of 0.34; a translator that memorises training images would too. (What
untranslated sources get is the identity baseline's row.) Every share counts all the images of
its set: an image without a plausible cell (blank, noise, a missing channel) cannot be classified
as anything and counts as a miss, never as a dropped row. Shares have a bootstrap 95% interval
over source images (or fields, where the data says), pooled shares too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, unscored
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, CellSet, FeatureOptions
from phenbench.metrics.statistics import value_with_ci


@dataclass(frozen=True)
class ClassifierOptions(FeatureOptions, BootstrapOptions):
    """Options of `classifier`."""

    regularisation: float = 1.0  # scikit-learn's C: inverse L2 strength


TARGET_SHARE = "classifier/target-share"


def _share(labels: np.ndarray) -> float:
    return float(np.mean(labels)) if len(labels) else float("nan")


class ConditionClassifier(CellFeatureMetric, OptionedMetric):
    name = "classifier"
    feature_sets = ("translated", "real_train")
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.REAL_TRAIN})
    higher_is_better = True
    summary = "Share of translated images a real-trained condition classifier assigns to the target."
    Options = ClassifierOptions

    def _model(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.options.regularisation, max_iter=5000)

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        targets = list(evaluation.bundles)
        if not evaluation.real_train:
            return [self._missing(targets, "needs real training images of every condition (evaluation.real_train)")]
        space = CellFeatureSpace(evaluation, self.options)
        train = {c: space.real_train(c) for c in evaluation.real_train}
        train = {c: cells.x for c, cells in train.items() if cells is not None and len(cells)}
        classes = sorted(train)
        if len(classes) < 2:
            return [self._missing(targets, f"needs training images with a plausible cell of 2+ conditions, got {classes}")]
        model = self._model().fit(
            np.concatenate([train[c] for c in classes]),
            np.concatenate([[i] * len(train[c]) for i, c in enumerate(classes)]),
        )
        # Shares of the translated images, and of held-out real images (the reference row).
        shares: dict[str, dict[str, MetricValue]] = {"translated": {}, "real": {}}
        hits_of: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"translated": [], "real": []}
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            seed = condition_seed(evaluation, target, self.name)
            for kind, cells in (("translated", space.translated(target)), ("real", space.real(target))):
                if target not in classes:
                    shares[kind][target] = MetricValue.absent(f"the classifier has no training images of {target}")
                elif cells is None or cells.total == 0:
                    shares[kind][target] = MetricValue.absent("no images to classify")
                else:
                    hits = self._hits(model, cells, classes.index(target))
                    shares[kind][target] = value_with_ci(
                        _share, [hits], n_boot=self.options.bootstrap, seed=seed, groups=[cells.units],
                        bounds=(0.0, 1.0))
                    hits_of[kind].append((hits, cells.units))
        pooled = {kind: self._pooled(evaluation, shares[kind], hits_of[kind]) for kind in shares}
        floor = {**shares["real"], "pooled": pooled["real"]}
        return [MetricResult(TARGET_SHARE, True, shares["translated"], pooled["translated"], floor=floor)]

    @staticmethod
    def _missing(targets: list[str], reason: str) -> MetricResult:
        return MetricResult(TARGET_SHARE, True, {t: MetricValue.absent(reason) for t in targets},
                            MetricValue.absent(reason))

    @staticmethod
    def _hits(model, cells: CellSet, target_index: int) -> np.ndarray:
        """1 per image classified as the target; 0 for the others and for images without a cell."""
        hits = np.zeros(cells.total)
        if len(cells):
            hits[cells.measured] = (model.predict(cells.x) == target_index).astype(float)
        return hits

    def _pooled(self, evaluation: Evaluation, per_condition: dict[str, MetricValue],
                hits: list[tuple[np.ndarray, np.ndarray]]) -> MetricValue:
        missing = unscored(per_condition)
        if missing is not None:
            return missing
        return value_with_ci(_share, [np.concatenate([h for h, _ in hits])], n_boot=self.options.bootstrap,
                             seed=condition_seed(evaluation, "pooled", self.name),
                             groups=[np.concatenate([u for _, u in hits])], bounds=(0.0, 1.0))
