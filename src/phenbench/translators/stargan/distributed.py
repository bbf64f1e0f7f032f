"""What a StarGAN fit keeps per process under `accelerate launch` / torchrun.

Each process draws its own batches (rows, targets, interpolation weights, flips) from its own
generator. Process 0's is seeded with the fit's seed itself, so a one-process fit draws exactly what
it drew before fits ran on several processes; the others get seeds derived from (seed, rank). Each
process's generator state is checkpointed, so a resumed fit on the same number of processes draws
what an uninterrupted one would have.
"""

from __future__ import annotations

from typing import Any

import torch

from phenbench.core.seeding import derived_seed


def rank_seed(seed: int, rank: int) -> int:
    """The seed of process `rank`'s batch generator (the fit's seed itself on process 0)."""
    return seed if rank == 0 else derived_seed(seed, 5, rank)


def rng_state_of(state: dict[str, Any], rank: int) -> torch.Tensor:
    """Process `rank`'s generator state in a checkpoint (one state, not a list: a one-process
    checkpoint written before several processes were supported)."""
    saved = state["rng"]
    return saved[rank] if isinstance(saved, list) else saved


def rng_states(accelerator: Any, generator: torch.Generator) -> list[torch.Tensor]:
    """Every process's generator state, in rank order (a collective: every process calls it)."""
    if accelerator.num_processes == 1:
        return [generator.get_state()]
    from accelerate.utils import gather_object

    return gather_object([generator.get_state()])


def mean_over_processes(accelerator: Any, values: list[float]) -> list[float]:
    """Each value averaged over the processes, element-wise (one all-reduce for the whole list)."""
    if accelerator.num_processes == 1 or not values:
        return list(values)
    local = torch.tensor(values, dtype=torch.float64, device=accelerator.device)
    return accelerator.reduce(local, reduction="mean").tolist()
