"""`classifier`: does a condition classifier trained on real cells recognise the translated ones?

A logistic regression (scikit-learn) on standardised CellProfiler features is trained on the real
training images of every condition (`Need.REAL_TRAIN`). Three shares per target condition:

- `classifier/target-share`: translated images classified as their target condition;
- `classifier/real-share`: real test images of the target classified as it (the ceiling: a perfect
  translator cannot beat the classifier's own accuracy on real cells);
- `classifier/source-share`: the untranslated source images classified as the target (what the
  identity translator gets).

The real-vs-real floor of the target share is the cross-validated accuracy of the same kind of
classifier asked to tell two random halves of the target's real training images apart: about 0.5,
what "separable" looks like when there is nothing to separate. Every share has a bootstrap 95%
interval over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need, pooled_mean
from phenbench.metrics.base import OptionedMetric, bundles_in_order, condition_seed
from phenbench.metrics.feature_space import CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import value_with_ci


@dataclass(frozen=True)
class ClassifierOptions(FeatureOptions):
    """Options of `classifier`."""

    regularisation: float = 1.0  # scikit-learn's C: inverse L2 strength
    bootstrap: int = 200
    floor_folds: int = 5


def _share(labels: np.ndarray) -> float:
    return float(np.mean(labels)) if len(labels) else float("nan")


class ConditionClassifier(OptionedMetric):
    name = "classifier"
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.SOURCE, Need.REAL_TRAIN})
    higher_is_better = True
    summary = "Share of translated images a real-trained condition classifier assigns to the target."
    Options = ClassifierOptions

    def _model(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.options.regularisation, max_iter=5000)

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        names = ("classifier/target-share", "classifier/real-share", "classifier/source-share")
        targets = list(evaluation.bundles)
        if not evaluation.real_train:
            reason = "needs real training images of every condition (evaluation.real_train)"
            return [MetricResult(n, True, {t: MetricValue.absent(reason) for t in targets},
                                 MetricValue.absent(reason)) for n in names]
        space = CellFeatureSpace(evaluation, self.options)
        train = {c: space.standardise(space.real_train(c)) for c in evaluation.real_train}
        train = {c: x for c, x in train.items() if len(x)}
        classes = sorted(train)
        if len(classes) < 2:
            reason = f"needs segmented training images of at least 2 conditions, got {classes}"
            return [MetricResult(n, True, {t: MetricValue.absent(reason) for t in targets},
                                 MetricValue.absent(reason)) for n in names]
        model = self._model().fit(
            np.concatenate([train[c] for c in classes]),
            np.concatenate([[i] * len(train[c]) for i, c in enumerate(classes)]),
        )
        shares: dict[str, dict[str, MetricValue]] = {n: {} for n in names}
        floor: dict[str, MetricValue] = {}
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            seed = condition_seed(evaluation, target, self.name)
            sets = {
                names[0]: space.standardise(space.translated(target)),
                names[1]: space.standardise(space.real(target)),
                names[2]: space.standardise(space.sources(target)),
            }
            for name, features in sets.items():
                if target not in classes:
                    shares[name][target] = MetricValue.absent(f"the classifier has no training images of {target}")
                elif len(features) == 0:
                    shares[name][target] = MetricValue.absent("no segmented images to classify")
                else:
                    hits = (model.predict(features) == classes.index(target)).astype(float)
                    shares[name][target] = value_with_ci(
                        _share, [hits], n_boot=self.options.bootstrap, seed=seed, bounds=(0.0, 1.0))
            floor[target] = self._halves_floor(train.get(target), seed)
        results = []
        for i, name in enumerate(names):
            results.append(MetricResult(name, True, shares[name], pooled_mean(shares[name]),
                                        floor=floor if i == 0 else {}))
        return results

    def _halves_floor(self, features: np.ndarray | None, seed: int) -> MetricValue:
        """Cross-validated accuracy of telling two random halves of one condition apart (~0.5)."""
        folds = self.options.floor_folds
        if features is None or len(features) < 2 * folds:
            return MetricValue.absent(f"needs at least {2 * folds} real training images of the condition")
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        rng = np.random.default_rng(seed)
        halves = np.zeros(len(features), int)
        halves[rng.permutation(len(features))[: len(features) // 2]] = 1
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % (2**31))
        scores = cross_val_score(self._model(), features, halves, cv=splitter)
        return MetricValue(value=float(scores.mean()), n=len(features))
