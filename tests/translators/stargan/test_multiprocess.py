"""A 2-process StarGAN fit on the CPU (torchrun; `accelerate launch` on GPUs): data parallel, one model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.stargan.translator import StarGANTranslator
from tests.torchrun import run_two_processes
from tests.translators.phendiff.two_process_fit import digest
from tests.translators.stargan.two_process_fit import CONFIG

SCRIPT = Path(__file__).with_name("two_process_fit.py")


def test_two_process_fit_averages_gradients_resumes_exactly_and_saves_one_model(tmp_path) -> None:
    completed = run_two_processes(str(SCRIPT), str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    first, second = ranks
    assert first["processes"] == second["processes"] == 2
    # DDP keeps the ranks in step: the same generator, and the same loss curves (means over ranks).
    assert first["generator"] == second["generator"]
    assert first["losses"] == second["losses"] and len(first["losses"]) == 4
    assert first["generator_losses"] == second["generator_losses"] and len(first["generator_losses"]) == 2
    # One iteration with each rank on half a batch is the one-process iteration on the whole batch,
    # the gradient penalty's double backward through DDP included.
    assert first["data_parallel_gap"] < 1e-5
    # Stopped after 2 iterations and resumed to 4 on 2 processes: each rank's batches continue.
    assert first["resumed"] == {key: first[key] for key in first["resumed"]}
    loaded = StarGANTranslator.load(tmp_path / "model")
    assert digest(loaded.generator) == first["generator"]
    assert torch.isfinite(loaded.translate(torch.rand(2, 2, 8, 8) * 2 - 1, 0, 1).images).all()
    # Resuming that 2-process checkpoint on one process would change the data order: refused.
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    with pytest.raises(ConfigError, match="2 process"):
        StarGANTranslator(CONFIG, data.spec).fit(data, FitOptions(seed=5, device="cpu", progress=False,
                                                                  checkpoint_dir=tmp_path / "full"))
