"""CycleGAN's pair models on several processes (`accelerate launch` / torchrun): each trains its own.

The pair models are independent (each has its own seed and data), so there is nothing to average:
process r trains pairs r, r + N, r + 2N, ... of the run's sorted list, alone, and then every process
receives every pair's generators (each process translates its share of the test images later, with
any pair). A pair's weights do not depend on which process trained it: a fit on N processes gives
the models a one-process fit gives, and a pair's checkpoint resumes on any number of processes.

Processes with fewer or shorter pairs finish first and wait for the others. That wait can last
hours at the paper's size, longer than a process group's default timeout, so it is a LongWait.
"""

from __future__ import annotations

from typing import Any

from phenbench.core.sharding import LongWait, Shard, gather_in_order, my_batches


class PairSharing:
    """Which pairs this process trains, and bringing every trained pair to every process."""

    def __init__(self, shard: Shard, count: int):
        self.shard, self.count = shard, count
        self._all_trained = LongWait(shard)  # made now, while every process is here

    def mine(self) -> list[int]:
        """The indices of the pairs this process trains: k, k + N, k + 2N, ..."""
        return my_batches(self.count, self.shard)

    def trainer_of(self, index: int) -> int:
        return index % self.shard.count

    def share(self, trained: dict[int, Any]) -> list[Any]:
        """Every process's {pair index: result}, on every process, in pair order, once all have trained."""
        self._all_trained.wait()
        return gather_in_order(trained, self.count, self.shard)
