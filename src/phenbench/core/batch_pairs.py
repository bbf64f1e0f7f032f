"""Batch-matched pairs: each real target image is compared with a translation of a control cell
from its own batch (plate).

Plates differ in staining and exposure. When the translated controls come from every plate but the
real treated cells of a condition from one, a method is scored against the plate difference as
well as the treatment: a translator that changes nothing loses to the plate effect, one that
learns the plate wins for it. CellFlux (and the field's BBBC021 protocol after it) draws, for every
treated test cell, a control test cell of the same batch; so does this module:

- for every target, its real test rows (up to the run's limit, chosen with the evaluation seed);
- for each such row, the next control test row of its plate in a seeded order of that plate's
  controls (the order depends on the evaluation seed and the plate name only, so every target and
  every method draws the same controls); past the plate's last control the order starts again,
  and the reused draws are counted (CellFlux draws with replacement, always);
- real rows whose plate has no control test image are left out and counted.

The translated set of a target then has exactly as many images as its real set, with the same
plate composition, row for row.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from phenbench.core.dataset import PreparedDataset


@dataclass
class MatchedPairs:
    """Per target index: the control rows drawn (aligned with `reals`) and what could not be matched."""

    sources: dict[int, np.ndarray] = field(default_factory=dict)  # target -> control test rows
    reals: dict[int, np.ndarray] = field(default_factory=dict)  # target -> its real test rows kept
    dropped: dict[str, int] = field(default_factory=dict)  # target name -> real rows without a plate control
    reused: dict[str, int] = field(default_factory=dict)  # target name -> controls drawn a second time or more
    unmatched_plates: dict[str, list[str]] = field(default_factory=dict)  # target name -> plates without controls

    def record(self) -> dict:
        """What the run stores about its pairing."""
        return {"batch_matched": True, "batch": "plate", "dropped_real_images": dict(self.dropped),
                "reused_controls": dict(self.reused), "plates_without_controls": dict(self.unmatched_plates)}


def plate_order(rows: np.ndarray, plate: str, seed: int) -> np.ndarray:
    """A seeded order of one plate's control rows (independent of the target and the method)."""
    salt = zlib.crc32(f"batch-pairs|{plate}".encode())
    return np.random.default_rng([seed, salt]).permutation(rows)


def match_batches(dataset: PreparedDataset, control: int, real_rows: dict[int, np.ndarray], seed: int) -> MatchedPairs | None:
    """Draw a same-plate control for every real test row of every target; None without plates."""
    batches = dataset.batches("test")
    if batches is None:
        return None
    batches = np.asarray(batches).astype(str)
    controls = dataset.rows("test", control)
    pools = {plate: plate_order(controls[batches[controls] == plate], plate, seed)
             for plate in np.unique(batches[controls])}
    pairs = MatchedPairs()
    for target, rows in real_rows.items():
        name = dataset.conditions.name(target)
        plates = batches[rows]
        keep = np.array([plate in pools for plate in plates], dtype=bool)
        drawn = np.empty(int(keep.sum()), dtype=np.int64)
        taken: dict[str, int] = {}
        reused = 0
        for k, plate in enumerate(plates[keep]):
            pool = pools[plate]
            count = taken.get(plate, 0)
            drawn[k] = pool[count % len(pool)]
            reused += count >= len(pool)
            taken[plate] = count + 1
        pairs.sources[target], pairs.reals[target] = drawn, rows[keep]
        if (~keep).any():
            pairs.dropped[name] = int((~keep).sum())
            pairs.unmatched_plates[name] = sorted(set(plates[~keep]))
        if reused:
            pairs.reused[name] = reused
    return pairs


def targets_by_row(pairs: MatchedPairs) -> dict[frozenset[int], np.ndarray]:
    """Control rows grouped by the set of targets that drew them: each group is translated once to
    exactly those targets (an inversion is shared by every target of its source image)."""
    needed: dict[int, set[int]] = {}
    for target, rows in pairs.sources.items():
        for row in np.unique(rows):
            needed.setdefault(int(row), set()).add(target)
    groups: dict[frozenset[int], list[int]] = {}
    for row, targets in sorted(needed.items()):
        groups.setdefault(frozenset(targets), []).append(row)
    return {targets: np.array(rows, dtype=np.int64) for targets, rows in groups.items()}
