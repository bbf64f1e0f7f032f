"""The metric interface: a metric scores translated images, per target condition and pooled.

A metric receives an `Evaluation`: one `ConditionBundle` per target condition (real images of that
condition, the translated images, their sources, reconstructions where the translator inverts, and
true counterfactuals where the dataset has them). It never trains a translator and never reads
files. It returns one or more `MetricResult`s, each with its direction (`higher_is_better`) and, per
condition, a `MetricValue` with N, an optional confidence interval, or the reason it is missing.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from phenbench.core.conditions import ConditionSet
from phenbench.core.metric_result import MetricResult, MetricValue

__all__ = ["ConditionBundle", "Evaluation", "Metric", "MetricResult", "MetricValue", "Need", "pooled_mean"]


class Need(str, enum.Enum):
    """Inputs a metric can ask for; the runner computes only what some chosen metric needs."""

    REAL = "real"  # real test images of the target condition
    TRANSLATED = "translated"
    SOURCE = "source"
    RECONSTRUCTION = "reconstruction"  # invert then regenerate under the source condition
    COUNTERFACTUAL = "counterfactual"  # true counterfactual (synthetic worlds only)
    REAL_TRAIN = "real_train"  # real training images of every condition (for classifiers)


@dataclass
class ConditionBundle:
    """Everything about one target condition that a metric may use. Images in [-1, 1]."""

    target: str
    translated: torch.Tensor
    sources: torch.Tensor
    source_conditions: list[str]
    real: torch.Tensor | None = None
    reconstructions: torch.Tensor | None = None
    counterfactuals: torch.Tensor | None = None
    # The independent unit of each image for bootstrap resampling (its field of view or well,
    # where the dataset's metadata says; None: each image is its own unit). `source_units` labels
    # the translated images (and their sources) by the unit of their source image.
    real_units: np.ndarray | None = None
    source_units: np.ndarray | None = None


@dataclass
class Evaluation:
    """The bundles of a run, one per target condition, with what is known about the data."""

    conditions: ConditionSet
    channels: tuple[str, ...]
    bundles: dict[str, ConditionBundle]
    dataset_hash: str = ""
    real_train: dict[str, torch.Tensor] | None = None
    # Ground-truth measurements of images, where the dataset defines them (synthetic worlds).
    readouts: Callable[[torch.Tensor], tuple[list[str], np.ndarray] | None] | None = None
    seed: int = 0  # the evaluation seed (subsamples, bootstrap): fixed, not the training seed
    options: dict[str, Any] = field(default_factory=dict)
    # A digest of what was evaluated (dataset, pairs, the rows of every image set): stored with
    # every value, so that `compare` never puts values of different rows in one column.
    rows_digest: str = ""
    # Conditions held out of training (unseen compounds); targets a translator could not translate
    # (held out, for a translator that only conditions on seen classes) with the reason; the MoA
    # of each annotated condition; how pairs were drawn (batch-matched or not), as stored.
    held_out: tuple[str, ...] = ()
    untranslated: dict[str, str] = field(default_factory=dict)
    moa: dict[str, str] = field(default_factory=dict)
    pairing: dict[str, Any] = field(default_factory=dict)


class Metric(ABC):
    """Base class of a registered metric."""

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[Need]] = frozenset()
    higher_is_better: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def __init__(self, **options: Any):
        if options:
            raise TypeError(f"metric '{self.name}' takes no options, got {sorted(options)}")

    @abstractmethod
    def compute(self, evaluation: Evaluation) -> list[MetricResult]:
        """Score every bundle of `evaluation`; return one result per measure."""

    def prepare(self, evaluation: Evaluation, shard: Any) -> None:
        """Per-image work that the processes of a sharded run (`accelerate launch`, torchrun) share
        before the main process alone calls `compute`: feature extraction, each process measuring
        its share of the images and memoising all of them on `evaluation`. Called on every process,
        for every metric in the same order, only when there are several (`shard`, a
        core.sharding.Shard). The default does nothing: `compute` then does all the work on the
        main process, as in a one-process run."""


def pooled_mean(values: dict[str, MetricValue]) -> MetricValue:
    """The N-weighted mean of per-condition values; missing if any condition is missing."""
    present = [v for v in values.values() if v.value is not None]
    if not values:
        return MetricValue.absent("no target conditions were scored")
    if len(present) < len(values):
        missing = [k for k, v in values.items() if v.value is None]
        return MetricValue.absent(f"missing for {', '.join(missing)}", n=sum(v.n for v in present))
    total = sum(v.n for v in present)
    if total == 0:
        return MetricValue.absent("no images")
    mean = sum(v.value * v.n for v in present) / total  # type: ignore[operator]
    return MetricValue(value=float(mean), n=total)


# Options that change how fast a metric runs, never its values: left out of the options digest.
VALUE_NEUTRAL_OPTIONS = frozenset({"workers", "cache", "batch_size", "device"})


def options_digest(name: str, metric: Metric) -> str:
    """A short digest of a metric's name, class and value-relevant options."""
    import dataclasses
    import hashlib
    import json

    options = getattr(metric, "options", None)
    values = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else {}
    values = {k: v for k, v in values.items() if k not in VALUE_NEUTRAL_OPTIONS}
    kind = f"{type(metric).__module__}:{type(metric).__qualname__}"
    text = json.dumps({"metric": name, "class": kind, "options": values}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def stamp_results(results: list[MetricResult], name: str, metric: Metric, evaluation: Evaluation) -> list[MetricResult]:
    """Record on each result what it was computed on (rows and options digests), for `compare`."""
    digest = options_digest(name, metric)
    for result in results:
        result.rows_digest = evaluation.rows_digest or None
        result.options_digest = digest
    return results
