"""Run by `torchrun --nproc_per_node 2` from test_process_group_exit.py: which threads outlive the
process group's destruction at exit, when the libraries phenbench uses are imported after it exists.

Each rank joins the group (current_shard), gathers once, imports torch-fidelity and diffusers (as a
sharded run's translators and metrics do, after the group exists), gathers again, runs the exit
hook that destroys the group, and writes the names of its remaining threads to OUT/rank-<r>.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def thread_names() -> list[str]:
    return [Path(f"/proc/self/task/{task}/comm").read_text().strip() for task in os.listdir("/proc/self/task")]


def main(out: Path) -> None:
    from phenbench.core import sharding
    from phenbench.core.torch_compat import ensure_torchvision_importable

    shard = sharding.current_shard()
    sharding.gather_in_order({shard.index: 1}, shard.count, shard)
    ensure_torchvision_importable()
    import diffusers  # noqa: F401
    import torch_fidelity  # noqa: F401

    sharding.gather_in_order({shard.index: 2}, shard.count, shard)
    sharding._close_process_group()  # what the exit hook runs
    (out / f"rank-{shard.index}.json").write_text(json.dumps({"threads": thread_names()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
