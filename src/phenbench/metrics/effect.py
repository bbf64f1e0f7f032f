"""`effect`: does the translation move cells the way the real treatment does, and by how much?

In the standardised CellProfiler space, per target condition and per source condition g of its
translated images: the translated shift d_t = mean(translated from g) - mean(sources in g), and
the real shift d_r = mean(real target) - mean(sources in g) (the sources are real test images of
g, so d_r is what the treatment really does to g's cells). Measures (N-weighted over sources):

- `effect/cosine`: cos(d_t, d_r); 1 = the right direction. Undefined (missing, with the reason)
  when the translation moves nothing, as for the identity translator.
- `effect/magnitude-ratio`: |d_t| / |d_r|; 1 = the right amount, 0 = no effect (identity).
  Its ideal is 1, not the largest value: read it with `effect/magnitude-error`.
- `effect/magnitude-error`: |ratio - 1|; 0 = the right amount, 1 = no effect, 4 = five times too
  far. This is the one to rank methods by (lower is better).
- `effect/counterfactual-error` (synthetic data with true counterfactuals only):
  |mean(translated) - mean(true counterfactual)| / |mean(true counterfactual) - mean(sources)|:
  0 = the true effect, 1 = no better than not translating.

The real-vs-real floor replaces the translated cells by one half of the real target cells and the
real shift by the other half's: the agreement the data's own noise allows (cosine and ratio near
1 when the effect is large compared with cell-to-cell variation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import ConditionBundle, Evaluation, MetricResult, MetricValue, Need, pooled_mean
from phenbench.metrics.base import OptionedMetric, bundles_in_order, condition_seed, split_halves
from phenbench.metrics.feature_space import CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import value_with_ci


@dataclass(frozen=True)
class EffectOptions(FeatureOptions):
    """Options of `effect`."""

    bootstrap: int = 100


def _norm(v: np.ndarray) -> float:
    return float(np.sqrt(np.sum(v**2)))


def cosine(translated: np.ndarray, sources: np.ndarray, real: np.ndarray) -> float:
    d_t, d_r = translated.mean(0) - sources.mean(0), real.mean(0) - sources.mean(0)
    if _norm(d_t) == 0 or _norm(d_r) == 0:
        return float("nan")
    return float(d_t @ d_r / (_norm(d_t) * _norm(d_r)))


def magnitude_ratio(translated: np.ndarray, sources: np.ndarray, real: np.ndarray) -> float:
    d_r = _norm(real.mean(0) - sources.mean(0))
    return _norm(translated.mean(0) - sources.mean(0)) / d_r if d_r > 0 else float("nan")


def counterfactual_error(translated: np.ndarray, sources: np.ndarray, counterfactual: np.ndarray) -> float:
    d_true = _norm(counterfactual.mean(0) - sources.mean(0))
    return _norm(translated.mean(0) - counterfactual.mean(0)) / d_true if d_true > 0 else float("nan")


def magnitude_error(translated: np.ndarray, sources: np.ndarray, real: np.ndarray) -> float:
    return abs(magnitude_ratio(translated, sources, real) - 1.0)


Statistic = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
MEASURES: dict[str, tuple[Statistic, bool]] = {
    "cosine": (cosine, True),
    "magnitude-ratio": (magnitude_ratio, True),  # ideal 1 (IDEALS): tables mark the closest to 1
    "magnitude-error": (magnitude_error, False),
}
UNITS = {"magnitude-error": "|ratio - 1|"}
IDEALS = {"magnitude-ratio": 1.0}


class Effect(OptionedMetric):
    name = "effect"
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.SOURCE})
    higher_is_better = True
    summary = "Feature shift source -> translated against the real shift (cosine, magnitude ratio)."
    Options = EffectOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        values: dict[str, dict[str, MetricValue]] = {m: {} for m in [*MEASURES, "counterfactual-error"]}
        floors: dict[str, dict[str, MetricValue]] = {m: {} for m in MEASURES}
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            real = space.standardise(space.real(target))
            groups = self._groups(space, bundle)
            seed = condition_seed(evaluation, target, self.name)
            if len(real) < 2 or not groups:
                for m in values:
                    values[m][target] = MetricValue.absent("needs 2+ segmented real, source and translated images")
                for m in floors:
                    floors[m][target] = MetricValue.absent("needs 2+ segmented real images")
                continue
            for m, (statistic, _) in MEASURES.items():
                values[m][target] = self._weighted(statistic, groups, real, seed, m)
                half_a, half_b = (h.numpy() for h in split_halves(torch.from_numpy(real), seed))
                sources = np.concatenate([s for _, s in groups])
                floors[m][target] = value_with_ci(statistic, [half_a, sources, half_b], n_boot=0, seed=seed)
            values["counterfactual-error"][target] = self._counterfactual(space, bundle, seed)
        results = []
        for m, per_condition in values.items():
            higher = MEASURES[m][1] if m in MEASURES else False
            results.append(MetricResult(f"effect/{m}", higher, per_condition, pooled_mean(per_condition),
                                        floor=floors.get(m, {}), unit=UNITS.get(m, ""), ideal=IDEALS.get(m)))
        return results

    def _groups(self, space: CellFeatureSpace, bundle: ConditionBundle) -> list[tuple[np.ndarray, np.ndarray]]:
        """(translated, sources) standardised features per source condition, 2+ images each."""
        labels = np.asarray(bundle.source_conditions)
        groups = []
        for source in dict.fromkeys(bundle.source_conditions):
            rows = torch.from_numpy(np.flatnonzero(labels == source))
            translated = space.of(bundle.translated[rows], "translated", f"{bundle.target}<-{source}", real=False)
            sources = space.of(bundle.sources[rows], "sources", source, real=True)
            if len(translated) >= 2 and len(sources) >= 2:
                groups.append((translated, sources))
        return groups

    def _weighted(
        self, statistic: Statistic, groups: list[tuple[np.ndarray, np.ndarray]], real: np.ndarray, seed: int, what: str
    ) -> MetricValue:
        parts = [value_with_ci(statistic, [t, s, real], n_boot=self.options.bootstrap if len(groups) == 1 else 0,
                               seed=seed, n=len(t)) for t, s in groups]
        if any(p.value is None for p in parts):
            reason = "the translated images do not move in feature space (no direction)" if what == "cosine" \
                else "the real images do not differ from the sources"
            return MetricValue.absent(reason, n=sum(len(t) for t, _ in groups))
        if len(parts) == 1:
            return parts[0]
        return pooled_mean({str(i): p for i, p in enumerate(parts)})

    def _counterfactual(self, space: CellFeatureSpace, bundle: ConditionBundle, seed: int) -> MetricValue:
        if bundle.counterfactuals is None:
            return MetricValue.absent("the dataset has no true counterfactuals (synthetic worlds only)")
        translated = space.of(bundle.translated, "translated", bundle.target, real=False)
        counterfactual = space.of(bundle.counterfactuals, "counterfactual", bundle.target, real=False)
        sources = space.of(bundle.sources, "sources", "all-sources", real=False)
        if min(len(translated), len(counterfactual), len(sources)) < 2:
            return MetricValue.absent("needs 2+ segmented translated, counterfactual and source images")
        return value_with_ci(counterfactual_error, [translated, sources, counterfactual],
                             n_boot=self.options.bootstrap, seed=seed)
