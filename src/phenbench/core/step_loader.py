"""Training batches read ahead of the step that needs them: a DataLoader over step numbers.

Item s of `StepBatches` is what this process trains on at (micro-)step s: its rows of the seeded
`BatchPlan`, read in row order and randomly flipped, with the flips drawn from a generator seeded
by (seed, stream, s, rank). Every item is a pure function of its step, so the batches are the same
whether they are read in the loop, by worker processes in any order, before or after a resume.
`step_batches` hands them out in step order through a `torch.utils.data.DataLoader` whose workers
read and flip the next batches while the device trains on this one, into pinned memory on CUDA.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.dataset import PreparedDataset
from phenbench.core.seeding import derived_seed
from phenbench.core.training_batches import random_flips, read_in_row_order

# Batches each worker keeps ready: enough to hide a slow read behind a few steps, few enough that a
# large batch of 128 px crops (6 MiB at 256 x 3 x 128 x 128 fp32) costs little memory.
PREFETCH_PER_WORKER = 4


class StepBatches(torch.utils.data.Dataset):
    """(images, labels) of `rank` at each step: the plan's rows, read, then flipped with `flip_probability`."""

    def __init__(self, dataset: PreparedDataset, split: str, labels: torch.Tensor, plan: BatchPlan, rank: int,
                 seed: int, stream: int, flip_probability: float):
        self.dataset, self.split, self.labels, self.plan = dataset, split, labels, plan
        self.rank, self.seed, self.stream, self.flip_probability = rank, seed, stream, flip_probability

    def __len__(self) -> int:  # items are addressed by step number; the sampler names them
        return 2**62

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.plan.rows_for(step, self.rank)
        images = read_in_row_order(self.dataset, self.split, rows)
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.stream, step, self.rank))
        return random_flips(images, self.flip_probability, generator), self.labels[torch.as_tensor(rows)]


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
