"""What a CycleGAN pair model trains on at each iteration, as a function of (pair seed, iteration).

Each domain's rows come in epochs of seeded permutations (the reference's shuffled loader; it
draws domain B at random, which an epoch order also covers uniformly), read ahead by
`StepBatches`. The crops and flips are drawn on the device and the image pools' choices on the host,
each from a generator seeded per iteration. Only the pools carry state from one iteration to the
next, and they are checkpointed, so a resumed fit draws what an uninterrupted one would have.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.dataset import PreparedDataset
from phenbench.core.seeding import derived_seed
from phenbench.core.step_loader import StepBatches

# Recorded in every checkpoint: fits before it drew from one generator carried across iterations.
DRAWS = "per-iteration-v1"
_LOADER_STREAM, _AUGMENT_STREAM, _POOL_STREAM = 2, 3, 4  # derived_seed streams (the plans use 1)


def pair_batches(dataset: PreparedDataset, rows: tuple[np.ndarray, np.ndarray], batch_size: int,
                 seed: int) -> StepBatches:
    """Item s: (domain A images, domain B images, B's conditions) at iteration s, unflipped (the
    augmentation flips them on the device)."""
    plans = tuple(BatchPlan(len(domain), batch_size, 1, derived_seed(seed, k)) for k, domain in enumerate(rows))
    labels = torch.as_tensor(dataset.labels("train"), dtype=torch.long)
    return StepBatches(dataset, "train", labels, partial(_pair_rows, plans, rows), 0, seed, _LOADER_STREAM, 0.0)


def _pair_rows(plans: tuple[BatchPlan, BatchPlan], rows: tuple[np.ndarray, np.ndarray], step: int,
               rank: int) -> tuple[np.ndarray, np.ndarray]:
    return tuple(domain[plan.rows_for(step, rank)] for plan, domain in zip(plans, rows))


def augment_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The generator of iteration `step`'s crops and flips, on the device that applies them."""
    return torch.Generator(device=device).manual_seed(derived_seed(seed, _AUGMENT_STREAM, step))


def pool_generator(seed: int, step: int) -> torch.Generator:
    """The generator of iteration `step`'s image-pool choices (host-side decisions)."""
    return torch.Generator().manual_seed(derived_seed(seed, _POOL_STREAM, step))
