"""Which training items each process reads at each step: epochs of seeded permutations.

Step s of process r reads positions (s * N + r) * B ... + B - 1 of the endless sequence made of
one seeded permutation of the items per epoch: a pure function of (seed, step, rank), so a
resumed fit reads what an uninterrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from phenbench.core.seeding import derived_seed


@dataclass
class BatchPlan:
    """Item indices (0 .. rows - 1) per (step, rank), `per_process` at a time over `processes`."""

    rows: int
    per_process: int
    processes: int
    seed: int
    _cache: dict[int, torch.Tensor] = field(default_factory=dict)

    def permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._cache:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, 1, epoch))
            self._cache = {epoch: torch.randperm(self.rows, generator=generator)}
        return self._cache[epoch]

    def rows_for(self, step: int, rank: int) -> np.ndarray:
        start = (step * self.processes + rank) * self.per_process
        positions = range(start, start + self.per_process)
        return np.array([int(self.permutation(p // self.rows)[p % self.rows]) for p in positions])
