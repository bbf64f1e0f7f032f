"""The base of phenbench's own metrics: options as a frozen dataclass, unknown options rejected.

`phenbench.core.metric.Metric` takes no options. Our metrics take a few (a weights path, a sample
cap, the bootstrap count), so each declares an `Options` dataclass and `__init__(**options)` builds
it with `config_from_dict`: a misspelled option is a `ConfigError` listing the valid ones, never a
silently ignored keyword.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from phenbench.core.config import config_from_dict
from phenbench.core.metric import ConditionBundle, Evaluation, Metric, MetricValue


@dataclass(frozen=True)
class NoOptions:
    """A metric without options."""


@dataclass(frozen=True)
class BootstrapOptions:
    """The resample count of a metric's 95% intervals: 0 (none) or at least 200 (statistics.py)."""

    bootstrap: int = 200

    def __post_init__(self) -> None:
        from phenbench.metrics.statistics import check_resamples

        check_resamples(self.bootstrap)


class OptionedMetric(Metric):
    """A Metric whose keyword options are validated into `self.options` (an `Options` instance)."""

    Options: ClassVar[type] = NoOptions

    def __init__(self, **options: Any):
        self.options = config_from_dict(self.Options, options, where=f"options of metric '{self.name}'")


def bundles_in_order(evaluation: Evaluation) -> Iterator[ConditionBundle]:
    """The bundles in the dataset's condition order (stable tables and seeds)."""
    order = {name: i for i, name in enumerate(evaluation.conditions.names)}
    for name in sorted(evaluation.bundles, key=lambda n: (order.get(n, len(order)), n)):
        yield evaluation.bundles[name]


def unscored(values: dict[str, MetricValue]) -> MetricValue | None:
    """The missing pooled value when some condition was not scored (or none was), else None:
    a pooled value over the conditions that happened to survive would claim more than it measured."""
    if not values:
        return MetricValue.absent("no target conditions were scored")
    missing = [c for c, v in values.items() if v.value is None]
    return MetricValue.absent(f"missing for {', '.join(missing)}") if missing else None


def condition_seed(evaluation: Evaluation, condition: str, salt: str = "") -> int:
    """A seed derived from the run's seed and a condition name: the same on every run and machine."""
    import zlib

    return (int(evaluation.seed) * 1_000_003 + zlib.crc32(f"{salt}|{condition}".encode())) % (2**31 - 1)


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of two disjoint random halves (n // 2 each) of n items, for real-vs-real floors."""
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return np.sort(order[:half]), np.sort(order[half : 2 * half])


def matched_halves(n_translated: int, n_real: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(translated, real half A, real half B) positions, all of one size h = min(n_real // 2, n_translated).

    A method is scored as translated against B and the floor as A against B: both at the same
    n, so a distance biased by sample size (FID, FD) is biased alike on both rows.
    """
    order = np.random.default_rng(seed).permutation(n_real)
    half = n_real // 2
    size = min(half, n_translated)
    translated = np.sort(np.random.default_rng(seed + 1).choice(n_translated, size=size, replace=False))
    return translated, np.sort(order[:size]), np.sort(order[half : half + size])


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] float32, clamped (translators may overshoot slightly)."""
    return ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)
