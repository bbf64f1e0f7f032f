"""Run by `torchrun --nproc_per_node 2` from test_long_wait.py: rank 0 works alone for longer than
the default group's timeout (made 3 s here; torch's is 30 minutes), then hands rank 1 a value.

With `long-wait`, rank 1 waits in a LongWait first; with `plain`, straight in the broadcast, whose
timeout then fails it. Each rank that got the value writes OUT/rank-<r>.json.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

DEFAULT_TIMEOUT = timedelta(seconds=3)
RANK_0_WORKS = 8.0  # seconds, well past the timeout


def main(out: Path, long_wait: bool) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", timeout=DEFAULT_TIMEOUT)
    from phenbench.core.sharding import LongWait, broadcast_from_main, current_shard

    shard = current_shard()  # the group above, with its short timeout
    scored = LongWait(shard) if long_wait else None
    if shard.is_main:
        time.sleep(RANK_0_WORKS)
    if scored is not None:
        scored.wait()
    value = broadcast_from_main({"from": 0} if shard.is_main else None, shard)
    (out / f"rank-{shard.index}.json").write_text(json.dumps(value))


if __name__ == "__main__":
    main(Path(sys.argv[1]), long_wait=sys.argv[2] == "long-wait")
