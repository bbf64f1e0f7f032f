"""Sharding a translation job over processes (`accelerate launch` / `torchrun`).

Work is cut into batches from the sorted file list first, and whole batches are dealt out round
robin: batch k goes to process k mod N. A batch holds the same files whatever N is, and each
batch is seeded by its own index, so every output file is the same byte for byte whether one
process or eight wrote it (translators that project or sample see the same batch either way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from phenbench.core.devices import default_device  # noqa: F401 (re-exported: the translate command uses it)

Item = TypeVar("Item")


@dataclass(frozen=True)
class Shard:
    """Which process this is, out of how many."""

    index: int = 0
    count: int = 1

    @property
    def is_main(self) -> bool:
        return self.index == 0


def current_shard() -> Shard:
    """This process's place, from accelerate's `PartialState` (1 of 1 outside a launcher)."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard()  # no launcher: do not start a process group for nothing
    from accelerate import PartialState

    state = PartialState(cpu=not _has_gpu())
    return Shard(index=state.process_index, count=state.num_processes)


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def wait_for_everyone(shard: Shard) -> None:
    """A barrier across processes (nothing to wait for when running alone)."""
    if shard.count > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def batches(items: Sequence[Item], batch_size: int) -> list[list[Item]]:
    """`items` cut into consecutive batches of `batch_size` (the last may be shorter)."""
    return [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]


def my_batches(count: int, shard: Shard) -> list[int]:
    """The indices of the batches this process handles: k, k + N, k + 2N, ..."""
    return list(range(shard.index, count, shard.count))
