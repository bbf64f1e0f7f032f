"""`source-fidelity`: is the translated cell still the cell it was made from?

The distribution measures (FID, `fd-cellprofiler`, `classifier`, `cellprofiler`, `dose-response`,
`effect`) ask whether translated cells look like the target condition. A translator that ignores
its input and returns random real cells of the target (the `real-target` baseline) wins them
all. This measure asks the other half: from the translated cell's CellProfiler features, can its
own source be picked out among K candidate sources?

For each translated image whose source has a plausible cell: the candidates are its source and
K - 1 other measured sources of the same bundle (drawn with the evaluation seed); the translation
scores 1 when its own source is the nearest candidate in the standardised feature space (a tie
counts 1 / number tied), 0 otherwise. A translated image without a plausible cell scores 0. The
value is the mean (top-1 retrieval accuracy): 1 for the identity, 1/K in expectation for a cell
unrelated to its source. The floor is that chance level, 1/K: a value near it means the source
cell is lost. K is `candidates` (default 10), fewer when a bundle has fewer measured sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.metric import Evaluation, MetricResult, MetricValue, Need
from phenbench.metrics.base import BootstrapOptions, OptionedMetric, bundles_in_order, condition_seed, unscored
from phenbench.metrics.feature_space import CellFeatureMetric, CellFeatureSpace, FeatureOptions
from phenbench.metrics.statistics import value_with_ci


@dataclass(frozen=True)
class SourceFidelityOptions(FeatureOptions, BootstrapOptions):
    """Options of `source-fidelity`."""

    candidates: int = 10  # K: the source and K - 1 decoys

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.candidates, int) or self.candidates < 2:
            raise ValueError(f"candidates must be an integer of at least 2, got {self.candidates!r}")


def retrieval_hits(translated: np.ndarray, sources: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Top-1 retrieval of row i of `sources` from row i of `translated` among k candidates.

    Both are N x D (row i of `translated` was made from row i of `sources`). Returns N scores in
    [0, 1]: 1 when source i is the unique nearest of its candidates, 1/m when m candidates tie.
    """
    n = len(sources)
    rng = np.random.default_rng(seed)
    hits = np.zeros(n)
    for i in range(n):
        decoys = rng.choice(np.delete(np.arange(n), i), size=k - 1, replace=False)
        distances = np.linalg.norm(sources[np.concatenate([[i], decoys])] - translated[i], axis=1)
        nearest = distances <= distances.min() * (1 + 1e-12) + 1e-12
        hits[i] = 1.0 / nearest.sum() if nearest[0] else 0.0
    return hits


def share(hits: np.ndarray) -> float:
    return float(np.mean(hits)) if len(hits) else float("nan")


class SourceFidelity(CellFeatureMetric, OptionedMetric):
    name = "source-fidelity"
    needs = frozenset({Need.REAL, Need.TRANSLATED, Need.SOURCE})
    higher_is_better = True
    summary = "Top-1 retrieval of each translated cell's source among K candidates (1 = kept, 1/K = lost)."
    Options = SourceFidelityOptions

    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        space = CellFeatureSpace(evaluation, self.options)
        per_condition: dict[str, MetricValue] = {}
        floor: dict[str, MetricValue] = {}
        all_hits, all_units, chance = [], [], []
        for bundle in bundles_in_order(evaluation):
            target = bundle.target
            translated, sources = space.translated(target), space.sources(target)
            with_source = sources.measured  # a source without a plausible cell cannot be retrieved
            k = min(self.options.candidates, int(with_source.sum()))
            if k < 2:
                per_condition[target] = floor[target] = MetricValue.absent(
                    f"needs 2+ source images with a plausible cell, got {int(with_source.sum())}")
                continue
            seed = condition_seed(evaluation, target, self.name)
            hits = retrieval_hits(translated.padded()[with_source], sources.x, k, seed)
            hits[~translated.measured[with_source]] = 0.0  # no plausible cell: nothing to retrieve from
            units = translated.units[with_source]
            per_condition[target] = value_with_ci(share, [hits], n_boot=self.options.bootstrap, seed=seed,
                                                  groups=[units], bounds=(0.0, 1.0), n=len(hits))
            floor[target] = MetricValue(1.0 / k, n=len(hits))
            all_hits.append(hits)
            all_units.append(units)
            chance.append(np.full(len(hits), 1.0 / k))
        pooled = unscored(per_condition)
        if pooled is None:
            pooled = value_with_ci(share, [np.concatenate(all_hits)], n_boot=self.options.bootstrap,
                                   seed=condition_seed(evaluation, "pooled", self.name),
                                   groups=[np.concatenate(all_units)], bounds=(0.0, 1.0))
            floor["pooled"] = MetricValue(float(np.concatenate(chance).mean()), n=len(np.concatenate(chance)))
        return [MetricResult(self.name, True, per_condition, pooled, floor=floor, unit="top-1 of K")]
