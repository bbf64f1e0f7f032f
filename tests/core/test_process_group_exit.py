"""A process of a sharded run ends with its process group destroyed and gloo's threads joined.

Left alive into the interpreter's teardown, a gloo worker that still holds the tensors of the last
gather takes the GIL to free them, the finalising interpreter ends that thread, and the process
aborts ("terminate called without an active exception", SIGABRT): a sharded run that had written
its results then failed, about 1 launch in 30 on loaded CPUs. The group outlived its destruction
whenever torch._dynamo was first imported after the group existed (diffusers and torch-fidelity
import it), so current_shard imports it first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.torchrun import run_two_processes

SCRIPT = Path(__file__).with_name("process_group_exit.py")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads thread names from /proc")
def test_no_gloo_thread_outlives_the_exit_hook(tmp_path) -> None:
    completed = run_two_processes(str(SCRIPT), str(tmp_path), timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for rank in (0, 1):
        threads = json.loads((tmp_path / f"rank-{rank}.json").read_text())["threads"]
        assert threads and not [name for name in threads if "gloo" in name], threads
