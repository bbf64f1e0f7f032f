"""Training batches read ahead of the step that needs them: a DataLoader over step numbers.

Item s of `StepBatches` is what this process trains on at (micro-)step s: its rows (of the seeded
`BatchPlan`, or pairs of rows drawn from it), read in row order and randomly flipped, with the
flips drawn from a generator seeded by (seed, stream, s, rank). Every item is a pure function of
its step, so the batches are the same whether they are read in the loop, by worker processes in
any order, before or after a resume.
`step_batches` hands them out in step order through a `torch.utils.data.DataLoader` whose workers
read and flip the next batches while the device trains on this one, into pinned memory on CUDA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import numpy as np
import torch

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.dataset import PreparedDataset
from phenbench.core.seeding import derived_seed
from phenbench.core.training_batches import random_flips, read_in_row_order

# Batches each worker keeps ready: enough to hide a slow read behind a few steps, few enough that a
# large batch of 128 px crops (6 MiB at 256 x 3 x 128 x 128 fp32) costs little memory.
PREFETCH_PER_WORKER = 4


class StepBatches(torch.utils.data.Dataset):
    """What `rank` trains on at each step: the row sets `draw(step, rank)` names (one, or several
    such as CellFlux's control and target rows), each read and flipped with `flip_probability`
    (one generator, in order; up-down as well unless `vertical_flips` is off), with the labels of the
    last set."""

    def __init__(self, dataset: PreparedDataset, split: str, labels: torch.Tensor,
                 draw: Callable[[int, int], tuple[np.ndarray, ...]], rank: int, seed: int, stream: int,
                 flip_probability: float, vertical_flips: bool = True):
        self.dataset, self.split, self.labels, self.draw = dataset, split, labels, draw
        self.rank, self.seed, self.stream, self.flip_probability = rank, seed, stream, flip_probability
        self.vertical_flips = vertical_flips

    def __len__(self) -> int:  # items are addressed by step number; the sampler names them
        return 2**62

    def __getitem__(self, step: int) -> tuple[torch.Tensor, ...]:
        row_sets = self.draw(step, self.rank)
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.stream, step, self.rank))
        images = [random_flips(read_in_row_order(self.dataset, self.split, rows), self.flip_probability, generator,
                               self.vertical_flips) for rows in row_sets]
        return (*images, self.labels[torch.as_tensor(row_sets[-1])])


def plan_rows(plan: BatchPlan) -> Callable[[int, int], tuple[np.ndarray]]:
    """`draw` for one row set per step: the plan's rows of the process (a partial, not a lambda:
    workers started by spawn receive it pickled)."""
    return partial(_rows_of, plan)


def _rows_of(plan: BatchPlan, step: int, rank: int) -> tuple[np.ndarray]:
    return (plan.rows_for(step, rank),)


def loader_workers(requested: int | None, device: str) -> int:
    """Worker processes reading batches: as requested, else 2 on a GPU (reads overlap the steps)
    and none on the CPU, where workers only take cores from the training threads."""
    if requested is not None:
        return max(int(requested), 0)
    return 2 if str(device).startswith("cuda") else 0


def step_batches(batches: StepBatches, first: int, stop: int, workers: int,
                 device: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The items of steps first, first + 1, ..., stop - 1, in that order, read ahead by `workers`."""
    if stop <= first:
        return iter(())
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(first, stop), num_workers=workers,
        pin_memory=str(device).startswith("cuda"),
        prefetch_factor=PREFETCH_PER_WORKER if workers else None,
    )  # workers get the dataset by fork (Linux) or pickling; an on-disk cache reopens its file in each
    return iter(loader)
