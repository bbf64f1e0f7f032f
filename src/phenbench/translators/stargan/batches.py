"""What a StarGAN fit trains on at each iteration, as a function of (seed, iteration, rank).

Rows come from epochs of seeded permutations (`BatchPlan`: the reference's shuffled DataLoader,
`batch_size` per process as its per-GPU batch), read ahead and flipped by `StepBatches`. The
targets (the batch's conditions shuffled) and the gradient penalty's interpolation weights are
drawn on the device from a generator seeded per iteration. Nothing depends on what was drawn
before, so a resumed fit draws exactly what an uninterrupted one would have, without saving any
generator state.
"""

from __future__ import annotations

import numpy as np
import torch

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.dataset import PreparedDataset
from phenbench.core.seeding import derived_seed
from phenbench.core.step_loader import StepBatches, plan_rows
from phenbench.translators.stargan.config import StarGANConfig
from phenbench.translators.stargan.training import Batch

# Recorded in every checkpoint. Fits before it drew from one generator carried across iterations;
# resuming one of those with these draws would splice two different random streams.
DRAWS = "per-iteration-v1"
_FLIP_STREAM, _TARGET_STREAM = 2, 3  # derived_seed streams (the plan uses 1)


def training_batches(dataset: PreparedDataset, labels: np.ndarray, config: StarGANConfig, seed: int,
                     rank: int, processes: int) -> StepBatches:
    """Item s: (images, conditions) of this process at iteration s, flipped left-right half of the
    time when `horizontal_flip` (the reference's RandomHorizontalFlip: cells have no left or right)."""
    plan = BatchPlan(len(labels), config.batch_size, processes, seed)
    return StepBatches(dataset, "train", torch.as_tensor(labels, dtype=torch.long), plan_rows(plan), rank, seed,
                       _FLIP_STREAM, 0.5 if config.horizontal_flip else 0.0, vertical_flips=False)


def draw_targets_and_mix(real: torch.Tensor, source: torch.Tensor, seed: int, step: int, rank: int) -> Batch:
    """The iteration's batch: targets are the batch's conditions shuffled (as the reference does),
    and the interpolation weights of the gradient penalty are uniform, both drawn on the device."""
    draw = torch.Generator(device=real.device).manual_seed(derived_seed(seed, _TARGET_STREAM, step, rank))
    order = torch.randperm(len(real), generator=draw, device=real.device)
    mix = torch.rand(len(real), 1, 1, 1, generator=draw, device=real.device)
    return Batch(real=real, source=source, target=source[order], mix=mix)
