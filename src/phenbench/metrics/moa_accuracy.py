"""`moa-accuracy`: are translated cells recognised as their target's mechanism of action (MoA)?

The field's BBBC021 protocol (IMPA, CellFlux) reports MoA accuracy beside FID; neither released
the code of its MoA classifier. Here: a logistic regression (scikit-learn, `regularisation` = C)
on standardised CellProfiler features (feature_space.py), trained on the real training images of
every condition with an annotated MoA (the dataset's `condition_moa()`: BBBC021's moa.csv, IMPA's
ANNOT; DMSO is its own class, "DMSO"), each image labelled with its condition's MoA. Per target:

- `moa-accuracy`: the share of its translated images classified as the target's MoA, images
  without a plausible cell counted as misses;
- `moa-accuracy/ceiling`: the same classifier on the target's real test images (what a perfect
  translator could reach; also the reference row of `moa-accuracy`);
- `moa-accuracy/floor`: the same on the untranslated controls the translations started from
  (what doing nothing gets).

Pooled values are over every translated (real, control) image of the targets with an annotated
MoA; targets without one are missing with that reason and named in `arrays["unannotated"]`, not
pooled. A held-out compound is scored like any other: its MoA may be known from other compounds.
Intervals: BCa bootstrap over source images (or fields), as `classifier`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, unscored
from phenbench.metrics.classifier import ConditionClassifier, _share
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import value_with_ci

NAME, CEILING, FLOOR = "moa-accuracy", "moa-accuracy/ceiling", "moa-accuracy/floor"
KINDS = {"translated": NAME, "real": CEILING, "sources": FLOOR}


@dataclass(frozen=True)
class MoaOptions(FeatureOptions, BootstrapOptions):
    """Options of `moa-accuracy`."""

    regularisation: float = 1.0  # scikit-learn's C: inverse L2 strength


class MoaAccuracy(CellFeatureMetric, OptionedMetric):
    name = NAME
    feature_sets = ("translated", "real_train")
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.REAL_TRAIN})
    higher_is_better = True
    summary = "Share of translated cells a real-trained MoA classifier assigns to the target's MoA (ceiling, floor)."
    Options = MoaOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        targets = list(evaluation.bundles)
        moa = {c: m for c, m in evaluation.moa.items() if m}
        if not moa:
            return self._missing(targets, "the dataset annotates no mechanism of action (BBBC021: BBBC021_v1_moa.csv "
                                          "beside the data, or IMPA's ANNOT column)")
        if not evaluation.real_train:
            return self._missing(targets, "needs real training images (evaluation.real_train)")
        space = CellFeatureSpace(evaluation, self.options)
        by_moa: dict[str, list[np.ndarray]] = {}
        for condition in evaluation.real_train:
            cells = space.real_train(condition) if condition in moa else None
            if cells is not None and len(cells):
                by_moa.setdefault(moa[condition], []).append(cells.x)
        classes = sorted(by_moa)
        if len(classes) < 2:
            return self._missing(targets, f"needs training cells of 2+ mechanisms of action, got {classes}")
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.options.regularisation, max_iter=5000).fit(
            np.concatenate([np.concatenate(by_moa[m]) for m in classes]),
            np.concatenate([[i] * sum(len(x) for x in by_moa[m]) for i, m in enumerate(classes)]),
        )
        values = {kind: {} for kind in KINDS}
        hits_of = {kind: [] for kind in KINDS}
        unannotated = []
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            seed = condition_seed(evaluation, target, self.name)
            sets = {"translated": space.translated(target), "real": space.real(target), "sources": space.sources(target)}
            for kind, cells in sets.items():
                if target not in moa:
                    values[kind][target] = MetricValue.absent(f"no mechanism of action is annotated for {target}")
                elif moa[target] not in classes:
                    values[kind][target] = MetricValue.absent(f"no training cells of the MoA {moa[target]}")
                elif cells is None or cells.total == 0:
                    values[kind][target] = MetricValue.absent("no images to classify")
                else:
                    hits = ConditionClassifier._hits(model, cells, classes.index(moa[target]))
                    values[kind][target] = value_with_ci(_share, [hits], n_boot=self.options.bootstrap, seed=seed,
                                                         groups=[cells.units], bounds=(0.0, 1.0))
                    hits_of[kind].append((hits, cells.units))
            if target not in moa:
                unannotated.append(target)
        scored = [t for t in targets if t not in unannotated]
        pooled = {kind: self._pooled(evaluation, {t: values[kind][t] for t in scored}, hits_of[kind], kind)
                  for kind in KINDS}
        arrays = {"classes": np.array(classes, dtype=str), "unannotated": np.array(unannotated, dtype=str)}
        results = [MetricResult(KINDS[kind], True, values[kind], pooled[kind], arrays=dict(arrays)) for kind in KINDS]
        results[0].floor = {**values["real"], "pooled": pooled["real"]}  # the reference row: the ceiling
        return results

    def _pooled(self, evaluation: Evaluation, per_condition: dict[str, MetricValue], hits, kind: str) -> MetricValue:
        missing = unscored(per_condition)
        if missing is not None:
            return missing
        return value_with_ci(_share, [np.concatenate([h for h, _ in hits])], n_boot=self.options.bootstrap,
                             seed=condition_seed(evaluation, "pooled", f"{self.name}/{kind}"),
                             groups=[np.concatenate([u for _, u in hits])], bounds=(0.0, 1.0))

    @staticmethod
    def _missing(targets: list[str], reason: str) -> list[MetricResult]:
        return [MetricResult(name, True, {t: MetricValue.absent(reason) for t in targets}, MetricValue.absent(reason))
                for name in KINDS.values()]
