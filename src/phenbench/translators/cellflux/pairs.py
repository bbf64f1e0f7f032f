"""CellFlux's training pairs: each target cell with a control cell of its own batch (plate).

An epoch is a seeded permutation of the target rows (the treated training cells, and the control
ones too when the control is learned as a target), dealt out by core/batch_plan.py. Each target
row is paired with a control row drawn at random from its plate's training controls, as CellFlux's data loader does, so the flow
learns the treatment and not the plate difference. Without plates (the synthetic world) any
control is drawn. Every draw is a pure function of (seed, step, rank): a resumed fit replays the
pairs an uninterrupted one would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.dataset import PreparedDataset
from phenbench.core.errors import DataError
from phenbench.core.seeding import derived_seed


@dataclass
class TrainingPairs:
    """The target rows, the control pool of each one's plate, and what could not be paired."""

    targets: np.ndarray  # training rows used as x_1
    pools: list[np.ndarray]  # per target row: the control rows it may be paired with
    seed: int
    batch_matched: bool
    dropped: int = 0  # target rows whose plate has no training control

    def draw(self, plan: BatchPlan, step: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
        """(control rows, target rows) for one process at one step; `plan` deals out the targets."""
        picks = plan.rows_for(step, rank)
        rng = np.random.default_rng(derived_seed(self.seed, 4, step, rank))
        controls = np.array([self.pools[k][rng.integers(len(self.pools[k]))] for k in picks], dtype=np.int64)
        return controls, self.targets[picks]

    def record(self) -> dict:
        return {"training_pairs": len(self.targets), "batch_matched": self.batch_matched,
                "targets_without_plate_control": self.dropped}


def training_pairs(dataset: PreparedDataset, control: int, learn_control_target: bool, seed: int) -> TrainingPairs:
    """Pair every training target row with the training controls of its plate."""
    labels = np.asarray(dataset.labels("train"))
    controls = np.flatnonzero(labels == control)
    if len(controls) == 0:
        raise DataError(
            f"The dataset '{dataset.name}' has no training images of its control "
            f"'{dataset.conditions.name(control)}'; CellFlux learns flows from control cells."
        )
    targets = np.arange(len(labels)) if learn_control_target else np.flatnonzero(labels != control)
    if len(targets) == 0:
        raise DataError(f"The dataset '{dataset.name}' has no treated training images for CellFlux to flow to.")
    plates = dataset.batches("train")
    if plates is None:
        return TrainingPairs(targets, [controls] * len(targets), seed, batch_matched=False)
    plates = np.asarray(plates).astype(str)
    by_plate = {plate: controls[plates[controls] == plate] for plate in np.unique(plates[controls])}
    keep = np.array([plates[row] in by_plate for row in targets], dtype=bool)
    if not keep.any():
        raise DataError(f"No training target of '{dataset.name}' shares a plate with a training control; "
                        "CellFlux pairs each treated cell with a control of its plate.")
    kept = targets[keep]
    return TrainingPairs(kept, [by_plate[plates[row]] for row in kept], seed, batch_matched=True,
                         dropped=int((~keep).sum()))
