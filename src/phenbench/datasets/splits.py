"""Deterministic train/test splits by plate or well, so that no well has cells on both sides.

Cells of one well share their staining, density and local artefacts; splitting cells of a well
between train and test would let a model be scored on near-copies of what it trained on. So whole
groups go to one side. `plate` keeps whole plates out (generalisation to unseen plates), `well`
whole wells, `field` whole fields of view.

A condition whose cells all come from one group cannot be split at that level. With
`fallback=True` such a condition is split at the next finer level (well -> field -> cell), and the
level used is recorded per condition (`SplitResult.levels`) and stored with the cache, so a report
can say so; with `fallback=False` it is an error. The shared BBBC021 crops need this: their
cyclohexamide@5 cells come from one field of one well.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from phenbench.core.errors import ConfigError, DataError

LEVELS = ("plate", "well", "field", "cell")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class SplitResult:
    split: np.ndarray  # "train" / "test" per row
    levels: dict[str, str]  # condition -> the level it was split at


def assign_splits(
    meta: pd.DataFrame,
    *,
    by: str = "well",
    test_fraction: float = 0.2,
    seed: int = 0,
    fallback: bool = True,
) -> SplitResult:
    """Split the rows of `meta` (columns: condition, and plate/well/field where known)."""
    if by not in LEVELS[:3]:
        raise ConfigError(f"Unknown split level {by!r}; choose plate, well or field.")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {test_fraction}.")
    keys = {level: _group_keys(meta, level) for level in LEVELS}
    split = np.full(len(meta), "train", dtype=object)
    levels: dict[str, str] = {}
    if by == "plate":
        split[:] = np.where(_test_groups(keys["plate"], test_fraction, seed), "test", "train")
    conditions = meta["condition"].to_numpy()
    for condition in pd.unique(conditions):
        rows = np.flatnonzero(conditions == condition)
        start = LEVELS.index(by)
        if by == "plate" and _both_sides(split[rows]):
            levels[str(condition)] = "plate"
            continue
        if by == "plate":
            start += 1
        for level in LEVELS[start:]:
            group = keys[level][rows]
            if len(np.unique(group)) >= 2:
                split[rows] = np.where(_test_groups(group, test_fraction, seed), "test", "train")
                levels[str(condition)] = level
                break
            if not fallback:
                raise DataError(
                    f"Condition '{condition}' has cells from a single {level} only, so it cannot be split by "
                    f"{level} into train and test. Add more {level}s of it, or allow a finer split (fallback)."
                )
        else:
            raise DataError(f"Condition '{condition}' has a single cell: it cannot be split into train and test.")
    return SplitResult(split=split.astype(str), levels=levels)


def _group_keys(meta: pd.DataFrame, level: str) -> np.ndarray:
    if level == "cell":
        return np.arange(len(meta)).astype(str).astype(object)
    parts = []
    for column in LEVELS[: LEVELS.index(level) + 1]:
        if column in meta.columns:
            parts.append(meta[column].astype(str).to_numpy())
    if not parts:
        return np.full(len(meta), "", dtype=object)
    key = parts[0].astype(object)
    for part in parts[1:]:
        key = key + "/" + part.astype(object)
    return key


def _test_groups(group: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """True for rows whose group is drawn for test: an order fixed by hashing (seed, group name)."""
    unique = sorted(pd.unique(group), key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    n_test = min(len(unique) - 1, max(1, round(test_fraction * len(unique))))
    return np.isin(group, np.array(unique[:n_test], dtype=object))


def _both_sides(split: np.ndarray) -> bool:
    return bool((split == "test").any() and (split == "train").any())
