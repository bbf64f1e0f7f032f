"""A process that waits for another's long work alone (rank 0 scoring a paper-size evaluation, a
CycleGAN process with the longest pairs) waits in a LongWait, past the default group's timeout."""

from __future__ import annotations

import json
from pathlib import Path

from tests.torchrun import run_two_processes

SCRIPT = str(Path(__file__).with_name("long_wait.py"))


def test_a_long_wait_outlasts_the_default_timeout_a_plain_collective_does_not(tmp_path) -> None:
    waited, plain = tmp_path / "long", tmp_path / "plain"
    waited.mkdir(), plain.mkdir()
    completed = run_two_processes(SCRIPT, str(waited), "long-wait", timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert [json.loads((waited / f"rank-{r}.json").read_text()) for r in (0, 1)] == [{"from": 0}] * 2
    # The same wait in the broadcast itself: rank 1 times out after 3 s, before rank 0 is done.
    completed = run_two_processes(SCRIPT, str(plain), "plain", timeout=300)
    assert completed.returncode != 0 and "Timed out" in completed.stderr and not (plain / "rank-1.json").exists()
