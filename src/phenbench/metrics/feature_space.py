"""A standardised CellProfiler feature space over the bundles of one Evaluation.

The metrics that work on CellProfiler features (`fd-cellprofiler`, `classifier`, `effect`,
`dose-response`, `cellprofiler`, `source-fidelity`, `segmentation-failures`) share this: features
of the real, translated and source images of each bundle (measured once, see `cp_features.py`),
and one standardisation fitted on the real images only (every method is measured in the same
coordinates).

- **One subsample per bundle.** Above `max_images`, a bundle's translated images, their sources
  and their true counterfactuals are subsampled at the same positions, seeded by the evaluation
  seed and not by the target: an untranslated image is compared with its own source, and bundles
  with the same sources (pairs `from-control`) score the same source cells.
- **Per-feature handling, never per-cell drops.** A feature is dropped when it is undefined
  (non-finite) in more than `MAX_UNDEFINED_SHARE` of the measured real cells, or has no variance
  among them; every other undefined entry is imputed with the feature's median over real cells.
  A cell is never dropped for one undefined measurement.
- **Failures are counted.** An image without a plausible cell (see `cp_features.py`) has no
  features; every `CellSet` keeps all its images (`measured` says which have features), so a
  metric can count failures as misses instead of scoring the survivors.
- **Resampling units.** Each image carries the label of its independent unit (`units`): its field
  of view or well where the dataset's metadata says (`ConditionBundle.real_units`,
  `source_units`), else itself. Bootstrap intervals resample these units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from phenbench.core.metric import ConditionBundle, Evaluation
from phenbench.metrics.base import condition_seed
from phenbench.metrics.cp_features import FeatureExtractor, FeatureTable
from phenbench.metrics.sharded_features import CellImageSet, measure_cell_sets

SET_KINDS = ("real", "sources", "translated", "counterfactuals", "real_train")
MAX_UNDEFINED_SHARE = 0.05  # of measured real cells; above it a feature is dropped, below imputed


@dataclass(frozen=True)
class FeatureOptions:
    """Options shared by the CellProfiler-based metrics (mixed into each metric's options)."""

    nucleus_channel: int = 0
    max_images: int | None = 200  # per image set, a seeded subsample (cp-measure costs ~0.04 s/crop)
    cache: bool = True
    workers: int = 1  # processes measuring cells in parallel (one core each)


@dataclass(frozen=True)
class CellSet:
    """Standardised features of one image set, with every image of it accounted for."""

    x: np.ndarray  # measured images x kept features
    failures: np.ndarray  # one per image of the set: 0 measured, else a cp_features.FAILURES code
    units: np.ndarray  # resampling unit of each image of the set
    rows: np.ndarray  # position of each image in the bundle (or image set) it came from

    @property
    def measured(self) -> np.ndarray:
        return self.failures == 0

    @property
    def total(self) -> int:
        return len(self.failures)

    @property
    def failed(self) -> int:
        return int((~self.measured).sum())

    @property
    def measured_units(self) -> np.ndarray:
        return self.units[self.measured]

    def __len__(self) -> int:
        return len(self.x)

    def padded(self) -> np.ndarray:
        """Features of every image of the set (zeros where there is no cell: mask with `measured`)."""
        x = np.zeros((self.total, self.x.shape[1]))
        x[self.measured] = self.x
        return x

    def where(self, keep: np.ndarray) -> "CellSet":
        """The images for which `keep` (one bool per image of the set) is true."""
        keep = np.asarray(keep, bool)
        return CellSet(x=self.x[keep[self.measured]], failures=self.failures[keep], units=self.units[keep],
                       rows=self.rows[keep])


def subsample_rows(n: int, cap: int | None, seed: int) -> np.ndarray:
    """Sorted positions of a seeded subsample of `cap` out of `n` (all of them when n <= cap)."""
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def _labels(prefix: str, rows: np.ndarray) -> np.ndarray:
    return np.array([f"{prefix}#{r}" for r in rows], dtype=object)


def _source_label(bundle: ConditionBundle) -> str:
    names = set(bundle.source_conditions)
    return names.pop() if len(names) == 1 else "mixed-sources"


class CellFeatureSpace:
    """Standardised features per bundle; standardisation fitted on all measured real images."""

    def __init__(self, evaluation: Evaluation, options: FeatureOptions):
        self.evaluation = evaluation
        self.options = options
        self.extractor = FeatureExtractor(
            evaluation, nucleus_channel=options.nucleus_channel, disk_cache=options.cache, workers=options.workers
        )
        self._names: tuple[str, ...] | None = None
        self._mean = self._std = self._median = self._keep = None

    # --- which images ------------------------------------------------------------------------

    def bundle_rows(self, target: str) -> np.ndarray:
        """Positions in the bundle of the translated images (and their sources) that are scored."""
        bundle = self.evaluation.bundles[target]
        return subsample_rows(len(bundle.translated), self.options.max_images,
                              condition_seed(self.evaluation, "every-bundle", "pairs"))

    def source_conditions(self, target: str) -> np.ndarray:
        """The source condition of each scored translated image (aligned with `bundle_rows`)."""
        return np.asarray(self.evaluation.bundles[target].source_conditions)[self.bundle_rows(target)]

    # --- image sets ---------------------------------------------------------------------------

    def image_set(self, kind: str, name: str) -> tuple[CellImageSet, np.ndarray, np.ndarray] | None:
        """(the images measured, the unit of each, its position in its bundle or image set) of one
        set: `kind` is one of SET_KINDS, `name` a target (a condition for "real_train"); None where
        the evaluation has no such images."""
        if kind == "real_train":
            images = (self.evaluation.real_train or {}).get(name)
            if images is None:
                return None
            rows = subsample_rows(len(images), self.options.max_images, condition_seed(self.evaluation, name, "train"))
            return (CellImageSet(images[torch.from_numpy(rows)], real_condition=name, split="train"),
                    _labels(f"train:{name}", rows), rows)
        bundle = self.evaluation.bundles[name]
        if kind == "real":
            if bundle.real is None:
                return None
            rows = subsample_rows(len(bundle.real), self.options.max_images,
                                  condition_seed(self.evaluation, name, "real"))
            units = bundle.real_units[rows] if bundle.real_units is not None else _labels(name, rows)
            return CellImageSet(bundle.real[torch.from_numpy(rows)], real_condition=name), np.asarray(units), rows
        images = {"translated": bundle.translated, "sources": bundle.sources,
                  "counterfactuals": bundle.counterfactuals}[kind]
        if images is None:
            return None
        rows = self.bundle_rows(name)
        # Without metadata, the source image itself is the unit (positions name the same source
        # images in bundles translated from the same sources).
        units = bundle.source_units[rows] if bundle.source_units is not None else _labels("source", rows)
        real_condition = _source_label(bundle) if kind == "sources" else None
        return CellImageSet(images[torch.from_numpy(rows)], real_condition=real_condition), np.asarray(units), rows

    def shared_sets(self, kinds: tuple[str, ...]) -> list[CellImageSet]:
        """Every set of `kinds` (and the real and source sets the standardisation is fitted on)."""
        wanted = set(kinds) | {"real", "sources"}
        sets = []
        for kind in SET_KINDS:
            if kind not in wanted:
                continue
            names = list(self.evaluation.real_train or {}) if kind == "real_train" else list(self.evaluation.bundles)
            sets += [found[0] for found in (self.image_set(kind, n) for n in names) if found is not None]
        return sets

    def _measured(self, found: tuple[CellImageSet, np.ndarray, np.ndarray] | None) -> CellSet | None:
        if found is None:
            return None
        image_set, units, rows = found
        table = self.extractor.features(image_set.images, real_condition=image_set.real_condition,
                                        split=image_set.split)
        return self._cells(table, units, rows)

    def translated(self, target: str) -> CellSet:
        return self._measured(self.image_set("translated", target))

    def sources(self, target: str) -> CellSet:
        return self._measured(self.image_set("sources", target))

    def counterfactuals(self, target: str) -> CellSet | None:
        return self._measured(self.image_set("counterfactuals", target))

    def real(self, target: str) -> CellSet | None:
        return self._measured(self.image_set("real", target))

    def real_train(self, condition: str) -> CellSet | None:
        return self._measured(self.image_set("real_train", condition))

    # --- the standardised space ---------------------------------------------------------------

    def _real_tables(self) -> list[FeatureTable]:
        tables = []
        for target in self.evaluation.bundles:
            for kind in ("real", "sources"):
                found = self.image_set(kind, target)
                if found is not None:
                    image_set = found[0]
                    tables.append(self.extractor.features(image_set.images, real_condition=image_set.real_condition))
        return [t for t in tables if t.names]

    def _fit(self) -> None:
        tables = self._real_tables()
        if not tables:
            self._names, self._keep = (), np.zeros(0, bool)
            self._mean = self._std = self._median = np.zeros(0)
            return
        names = tables[0].names
        stacked = np.concatenate([t.values[t.measured_rows()] for t in tables if t.names == names])
        self._names = names
        if not len(stacked):
            self._keep = np.zeros(len(names), bool)
            self._mean = self._std = self._median = np.zeros(len(names))
            return
        finite = np.isfinite(stacked)
        undefined_share = 1.0 - finite.mean(axis=0)
        with np.errstate(all="ignore"):
            median = np.nanmedian(np.where(finite, stacked, np.nan), axis=0)
        imputed = np.where(finite, stacked, median)
        self._median = median
        self._mean = imputed.mean(axis=0)
        self._std = imputed.std(axis=0)
        self._keep = (
            (undefined_share <= MAX_UNDEFINED_SHARE) & np.isfinite(self._std) & np.isfinite(median)
            & (self._std > 1e-9 * (1.0 + np.abs(self._mean)))
        )

    @property
    def names(self) -> tuple[str, ...]:
        if self._names is None:
            self._fit()
        return tuple(n for n, k in zip(self._names, self._keep) if k)

    def _cells(self, table: FeatureTable, units: np.ndarray, rows: np.ndarray) -> CellSet:
        if self._names is None:
            self._fit()
        width = int(self._keep.sum())
        failures = np.asarray(table.failures, dtype=np.int8)
        if table.names != self._names:  # nothing in the table was measured (or another channel layout)
            failures = np.where(failures == 0, 1, failures).astype(np.int8)
        measured = failures == 0
        values = table.values[measured] if measured.any() else np.zeros((0, len(self._names)))
        values = np.where(np.isfinite(values), values, self._median)
        x = ((values - self._mean) / np.where(self._keep, self._std, 1.0))[:, self._keep]
        return CellSet(x=x.reshape(len(x), width), failures=failures, units=units, rows=rows)


class CellFeatureMetric:
    """A metric on CellProfiler features: under several processes its `prepare` shares out the
    measurement of every set its `compute` reads (`feature_sets`, beyond real and source images)."""

    feature_sets: tuple[str, ...] = ("translated",)

    def prepare(self, evaluation: Evaluation, shard) -> None:
        space = CellFeatureSpace(evaluation, self.options)
        measure_cell_sets(space.extractor, space.shared_sets(self.feature_sets), shard)
