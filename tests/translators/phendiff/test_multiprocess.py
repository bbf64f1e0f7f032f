"""A 2-process fit on the CPU (torchrun; `accelerate launch` on GPUs) finishes with equal weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.torchrun import run_two_processes

SCRIPT = Path(__file__).with_name("two_process_fit.py")


def test_two_process_fit_syncs_weights_and_keeps_the_schedule_in_optimizer_steps(tmp_path) -> None:
    completed = run_two_processes(str(SCRIPT), str(tmp_path), "4")
    assert completed.returncode == 0, completed.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["processes"] for r in ranks] == [2, 2]
    assert ranks[0]["live"] == ranks[1]["live"] and ranks[0]["ema"] == ranks[1]["ema"]
    # Each optimizer step accumulates 2 micro-batches (no all-reduce on the first) read by a worker.
    assert ranks[0]["losses"] == ranks[1]["losses"] and len(ranks[0]["losses"]) == 4  # the mean over ranks
    # Warm-up 2 then cosine over 4 optimizer steps: two processes do not step it twice as fast.
    # The peak is 1e-3 x sqrt(2): the original run scales the learning rate by sqrt(processes).
    peak = 1e-3 * math.sqrt(2)
    expected = [0.0, 0.5 * peak, peak, peak * 0.5 * (1 + math.cos(math.pi * 1 / 2))]
    assert ranks[0]["learning_rates"] == pytest.approx(expected, abs=1e-12)
    loaded = PhenDiffTranslator.load(tmp_path / "model")
    images = torch.rand(2, 2, 8, 8) * 2 - 1
    assert torch.isfinite(loaded.translate(images, 0, 1).images).all()
