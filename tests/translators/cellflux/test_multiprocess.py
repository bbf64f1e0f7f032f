"""A 2-process CellFlux fit on the CPU (torchrun; `accelerate launch` on GPUs) ends with one model."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from phenbench.translators.cellflux.translator import CellFluxTranslator
from tests.torchrun import run_two_processes

SCRIPT = Path(__file__).with_name("two_process_fit.py")


def test_two_process_fit_keeps_the_ranks_in_step_and_saves_a_model(tmp_path) -> None:
    completed = run_two_processes(str(SCRIPT), str(tmp_path), "3")
    assert completed.returncode == 0, completed.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["processes"] for r in ranks] == [2, 2]
    # Gradients are averaged across ranks (DDP through accelerate): both end with the same weights.
    assert ranks[0]["live"] == ranks[1]["live"] and ranks[0]["ema"] == ranks[1]["ema"]
    assert ranks[0]["losses"] == ranks[1]["losses"] and len(ranks[0]["losses"]) == 3  # the mean over ranks
    loaded = CellFluxTranslator.load(tmp_path / "model")
    images = torch.rand(2, 2, 8, 8) * 2 - 1
    assert torch.isfinite(loaded.translate(images, 0, 1).images).all()
