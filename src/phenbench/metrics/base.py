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

import torch

from phenbench.core.config import config_from_dict
from phenbench.core.metric import ConditionBundle, Evaluation, Metric


@dataclass(frozen=True)
class NoOptions:
    """A metric without options."""


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


def condition_seed(evaluation: Evaluation, condition: str, salt: str = "") -> int:
    """A seed derived from the run's seed and a condition name: the same on every run and machine."""
    import zlib

    return (int(evaluation.seed) * 1_000_003 + zlib.crc32(f"{salt}|{condition}".encode())) % (2**31 - 1)


def split_halves(images: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint random halves of a batch, for the real-vs-real floor."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=generator)
    half = len(images) // 2
    return images[order[:half]], images[order[half : 2 * half]]


def match_sizes(a, b, seed: int):
    """Seeded subsamples of two arrays (or tensors) to the smaller length: distances such as FID
    are biased by sample size, so both sides (and every method) are compared at the same n."""
    import numpy as np

    n = min(len(a), len(b))
    rng = np.random.default_rng(seed)

    def pick(x):
        return x if len(x) == n else x[np.sort(rng.choice(len(x), n, replace=False))]

    return pick(a), pick(b)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] float32, clamped (translators may overshoot slightly)."""
    return ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)
