"""What a metric returns, and how tables mark a measure's direction: plain data, no torch.

Kept apart from `metric.py` (which imports torch for the images a metric reads) so that the
results store, `phenbench compare` and store-writing processes load in a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MetricValue:
    """One number with its sample size; `value` None means missing, and `missing` says why.
    A value without an interval where one was asked for says why in `ci_missing`."""

    value: float | None
    n: int = 0
    ci_low: float | None = None
    ci_high: float | None = None
    missing: str | None = None
    ci_missing: str | None = None

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            self.missing = self.missing or f"not finite ({self.value})"
            self.value = None
        if self.value is None and not self.missing:
            raise ValueError("a missing MetricValue needs a reason")

    @classmethod
    def absent(cls, reason: str, n: int = 0) -> "MetricValue":
        return cls(value=None, n=n, missing=reason)


@dataclass
class MetricResult:
    """One measure (e.g. `reconstruction/psnr`) for every target condition and pooled."""

    name: str
    higher_is_better: bool
    per_condition: dict[str, MetricValue]
    pooled: MetricValue
    floor: dict[str, MetricValue] = field(default_factory=dict)  # real-vs-real, where defined
    unit: str = ""
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. histograms, for reports
    # A target value (e.g. 1 for "share of the true shift"): the best value is the closest to it,
    # so an overshoot does not win. None: `higher_is_better` decides.
    ideal: float | None = None
    # What the values were computed on, set by the runner: a digest of the evaluated rows (dataset,
    # pairs, the images of every set) and of the metric's options. `compare` keeps values with
    # different digests in different columns. None: not recorded (stores written before them).
    rows_digest: str | None = None
    options_digest: str | None = None


def direction_symbol(higher_is_better: bool, ideal: float | None = None) -> str:
    """↑ higher is better, ↓ lower is better, →1 closest to 1 is best (a measure with an ideal value)."""
    if ideal is not None:
        return f"→{ideal:g}"
    return "↑" if higher_is_better else "↓"
