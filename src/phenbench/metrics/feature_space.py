"""A standardised CellProfiler feature space over the bundles of one Evaluation.

The metrics that work on CellProfiler features (`fd-cellprofiler`, `classifier`, `effect`,
`dose-response`, `cellprofiler`) share this: features of the real, translated and source images
of each bundle (measured once, see `cp_features.py`), and one standardisation fitted on the real
images only (every method is measured in the same coordinates). Features kept are those finite
for every valid image and with variance among the real images; rows where segmentation failed
are dropped, and the counts are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import ConditionBundle, Evaluation
from phenbench.metrics.base import condition_seed
from phenbench.metrics.cp_features import FeatureExtractor, FeatureTable


@dataclass(frozen=True)
class FeatureOptions:
    """Options shared by the CellProfiler-based metrics (mixed into each metric's options)."""

    nucleus_channel: int = 0
    max_images: int | None = 200  # per image set, a seeded subsample (cp-measure costs ~0.04 s/crop)
    cache: bool = True
    workers: int = 1  # processes measuring cells in parallel (one core each)


def subsample(images: torch.Tensor, cap: int | None, seed: int) -> torch.Tensor:
    if cap is None or len(images) <= cap:
        return images
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:cap].sort().values]


def _source_label(bundle: ConditionBundle) -> str:
    names = set(bundle.source_conditions)
    return names.pop() if len(names) == 1 else "mixed-sources"


class CellFeatureSpace:
    """Raw and standardised features per bundle; standardisation fitted on all real images."""

    def __init__(self, evaluation: Evaluation, options: FeatureOptions):
        self.evaluation = evaluation
        self.options = options
        self.extractor = FeatureExtractor(
            evaluation, nucleus_channel=options.nucleus_channel, disk_cache=options.cache, workers=options.workers
        )
        self._names: tuple[str, ...] | None = None
        self._mean = self._std = self._keep = None

    # --- raw tables -------------------------------------------------------------------------

    def _table(self, images: torch.Tensor, what: str, condition: str, real: bool) -> FeatureTable:
        images = subsample(images, self.options.max_images, condition_seed(self.evaluation, condition, what))
        return self.extractor.features(images, real_condition=condition if real else None)

    def real(self, target: str) -> FeatureTable | None:
        bundle = self.evaluation.bundles[target]
        return None if bundle.real is None else self._table(bundle.real, "real", target, real=True)

    def translated(self, target: str) -> FeatureTable:
        return self._table(self.evaluation.bundles[target].translated, "translated", target, real=False)

    def sources(self, target: str) -> FeatureTable:
        bundle = self.evaluation.bundles[target]
        return self._table(bundle.sources, "sources", _source_label(bundle), real=True)

    def real_train(self, condition: str) -> FeatureTable | None:
        images = (self.evaluation.real_train or {}).get(condition)
        if images is None:
            return None
        images = subsample(images, self.options.max_images, condition_seed(self.evaluation, condition, "train"))
        return self.extractor.features(images, real_condition=condition, split="train")

    def of(self, images: torch.Tensor, what: str, condition: str, *, real: bool) -> np.ndarray:
        """Standardised features of any image set (`what` and `condition` name it for seeds and caches)."""
        return self.standardise(self._table(images, what, condition, real=real))

    # --- the standardised space -------------------------------------------------------------

    def _fit(self) -> None:
        tables = [t for t in (self.real(target) for target in self.evaluation.bundles) if t is not None]
        tables += [self.sources(target) for target in self.evaluation.bundles]
        tables = [t for t in tables if t.names]
        if not tables:
            self._names, self._keep = (), np.zeros(0, bool)
            self._mean = self._std = np.zeros(0)
            return
        names = tables[0].names
        stacked = np.concatenate([t.values[t.valid_rows()] for t in tables if t.names == names])
        self._names = names
        self._mean = stacked.mean(axis=0) if len(stacked) else np.zeros(len(names))
        self._std = stacked.std(axis=0) if len(stacked) else np.zeros(len(names))
        self._keep = np.isfinite(self._std) & (self._std > 1e-9 * (1.0 + np.abs(self._mean)))

    @property
    def names(self) -> tuple[str, ...]:
        if self._names is None:
            self._fit()
        return tuple(n for n, k in zip(self._names, self._keep) if k)

    def standardise(self, table: FeatureTable | None) -> np.ndarray:
        """Valid rows of `table`, standardised, kept features only (0 x K if none)."""
        if self._names is None:
            self._fit()
        width = int(self._keep.sum())
        if table is None or not table.names or table.names != self._names:
            return np.zeros((0, width))
        values = table.values[table.valid_rows()]
        return ((values - self._mean) / np.where(self._keep, self._std, 1.0))[:, self._keep]
