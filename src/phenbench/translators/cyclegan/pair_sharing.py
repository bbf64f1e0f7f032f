"""CycleGAN's pair models on several processes (`accelerate launch` / torchrun): each trains its own.

The pair models are independent (each has its own seed and data), so there is nothing to average:
process r trains pairs r, r + N, r + 2N, ... of the run's sorted list, alone, and then every process
receives every pair's generators (each process translates its share of the test images later, with
any pair). A pair's weights do not depend on which process trained it: a fit on N processes gives
the models a one-process fit gives, and a pair's checkpoint resumes on any number of processes.

Processes with fewer or shorter pairs finish first and wait for the others. That wait can last
hours at the paper's size, longer than a process group's default timeout (torch's 30 minutes, after
which a waiting collective fails), so it is spent in a barrier of a gloo group created with a long one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from phenbench.core.sharding import Shard, gather_in_order, my_batches

# Longer than any pair model's training: a wait past this is a process that died without a word.
PAIR_WAIT = timedelta(days=7)


class PairSharing:
    """Which pairs this process trains, and bringing every trained pair to every process."""

    def __init__(self, shard: Shard, count: int):
        self.shard, self.count = shard, count
        self._waiting = None
        if shard.count > 1:
            import torch.distributed as dist

            # Created now, while every process is here (creating a group is itself a collective).
            self._waiting = dist.new_group(backend="gloo", timeout=PAIR_WAIT)

    def mine(self) -> list[int]:
        """The indices of the pairs this process trains: k, k + N, k + 2N, ..."""
        return my_batches(self.count, self.shard)

    def trainer_of(self, index: int) -> int:
        return index % self.shard.count

    def share(self, trained: dict[int, Any]) -> list[Any]:
        """Every process's {pair index: result}, on every process, in pair order, once all have trained."""
        if self._waiting is not None:
            import torch.distributed as dist

            dist.barrier(group=self._waiting)
            dist.destroy_process_group(self._waiting)
        return gather_in_order(trained, self.count, self.shard)
