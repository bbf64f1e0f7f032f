"""Sharding a translation job over processes (`accelerate launch` / `torchrun`).

Work is cut into batches from the sorted file list first, and whole batches are dealt out round
robin: batch k goes to process k mod N. A batch holds the same files whatever N is, and each
batch is seeded by its own index, so every output file is the same byte for byte whether one
process or eight wrote it (translators that project or sample see the same batch either way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from phenbench.core.devices import default_device  # noqa: F401 (re-exported: the translate command uses it)
from phenbench.core.sharding import Shard, current_shard, my_batches, wait_for_everyone  # noqa: F401 (re-exported)

Item = TypeVar("Item")


def batches(items: Sequence[Item], batch_size: int) -> list[list[Item]]:
    """`items` cut into consecutive batches of `batch_size` (the last may be shorter)."""
    return [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]
