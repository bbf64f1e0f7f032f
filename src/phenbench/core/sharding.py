"""Which process this is under `accelerate launch` / torchrun, and gathering work across processes.

`phenbench run` and `phenbench translate` deal whole batches out round robin (batch k to process
k mod N), each batch the same whatever N is; the results are gathered back in batch order, so a
sharded run computes exactly what one process would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


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
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard()  # no launcher: do not start a process group for nothing
    import torch
    from accelerate import PartialState

    close_at_exit()  # before the group exists
    state = PartialState(cpu=not torch.cuda.is_available())
    return Shard(index=state.process_index, count=state.num_processes)


_closing: list[bool] = []


def close_at_exit() -> None:
    """Destroy the process group when this process exits (registered once), joining gloo's threads.
    Call it before the group is made (current_shard, make_accelerator).

    Left to the interpreter's teardown, a gloo worker still freeing the tensors of the last gather
    takes the GIL, the finalising interpreter ends that thread, and the process aborts ("terminate
    called without an active exception") after its work is done. The destruction only joins the
    threads if nothing else holds the group: torch._dynamo, first imported once the group exists
    (diffusers and torch-fidelity import it), keeps it alive, so it is imported here, first
    (tests/core/test_process_group_exit.py)."""
    if _closing:
        return
    import atexit

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a group is coming (none without a launcher)
        import torch._dynamo  # noqa: F401 - imported before the group exists, it does not hold it

    _closing.append(True)
    atexit.register(_close_process_group)


def _close_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wait_for_everyone(shard: Shard) -> None:
    """A barrier across processes (nothing to wait for when running alone)."""
    if shard.count > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


# Longer than any one process's work alone (a pair model's training, rank 0 scoring a paper-size
# evaluation): a wait past this is a process that died without a word.
LONG_WAIT = timedelta(days=7)


class LongWait:
    """A barrier that may wait for hours, for processes that finish their part long before others.

    A collective on the default group fails after torch's timeout (30 minutes under gloo, 10 under
    NCCL), and the launcher then stops every process, the busy one too. So the wait is a barrier of
    its own gloo group, with a long timeout, made at construction, when every process is present
    (making a group is itself a collective). A process that dies closes its connections, which ends
    the others' wait at once, not after the timeout.
    """

    def __init__(self, shard: Shard, timeout: timedelta = LONG_WAIT):
        self._group = None
        if shard.count > 1:
            import torch.distributed as dist

            self._group = dist.new_group(backend="gloo", timeout=timeout)

    def wait(self) -> None:
        """Return once every process has called `wait` (at once when running alone); once only."""
        if self._group is not None:
            import torch.distributed as dist

            dist.barrier(group=self._group)
            dist.destroy_process_group(self._group)
            self._group = None


def my_batches(count: int, shard: Shard) -> list[int]:
    """The indices of the batches this process handles: k, k + N, k + 2N, ..."""
    return list(range(shard.index, count, shard.count))


def gather_in_order(mine: dict[int, Any], count: int, shard: Shard) -> list[Any]:
    """Every process's {batch index: result}, gathered to every process, as a list in batch order.

    The objects travel between this run's own processes (accelerate's gather_object, which pickles
    them): nothing read from a user's file.
    """
    if shard.count == 1:
        return [mine[k] for k in range(count)]
    from accelerate.utils import gather_object

    gathered: dict[int, Any] = {}
    for part in gather_object([mine]):
        gathered.update(part)
    return [gathered[k] for k in range(count)]


def broadcast_from_main(value: Any, shard: Shard) -> Any:
    """Rank 0's `value`, on every process."""
    if shard.count == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]
