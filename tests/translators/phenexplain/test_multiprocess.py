"""Phenexplain on 2 CPU processes (torchrun; `accelerate launch` on GPUs): data parallel, as the reference.

One step of 2 processes on the halves of a batch is the step of one process on the whole batch
(all four phases, R1's and path length's double backward through DDP). In fits, the ranks read
different images, yet end with the same G, D and G_ema (DDP averages the
gradients), the same ADA p (the sign statistics are summed over ranks: with ada_target 0 the
ranks' own statistics would move p different ways, see two_process_fit.py) and the same
path-length running mean; a fit stopped half-way and resumed on 2 processes ends where the
uninterrupted one does; rank 0 alone saves the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from phenbench.core.errors import ConfigError
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phenexplain.training import STATE_FILE
from phenbench.translators.phenexplain.translator import PhenexWTranslator
from tests.torchrun import run_two_processes
from tests.translators.phendiff.two_process_fit import digest
from tests.translators.phenexplain.two_process_fit import CONFIG, one_step
from tests.translators.phenexplain.test_contract import tiny_config

SCRIPT = Path(__file__).with_name("two_process_fit.py")
STEPS = 6


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("two-process")
    completed = run_two_processes(str(SCRIPT), str(out), str(STEPS))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]


def test_a_step_on_two_halves_of_a_batch_is_the_one_process_step_on_the_whole(two_process_run) -> None:
    out, (rank0, rank1) = two_process_run
    assert rank0["one_step"] == rank1["one_step"]
    halves = torch.load(out / "one_step.pt", weights_only=True)
    whole = one_step(processes=1, rank=0)
    for name in ("G", "D", "G_ema"):
        for key, value in getattr(whole, name).state_dict().items():
            torch.testing.assert_close(halves[name][key], value, rtol=1e-5, atol=1e-6, msg=f"{name}.{key}")


def test_two_processes_train_one_model_on_different_images(two_process_run) -> None:
    _, (rank0, rank1) = two_process_run
    assert rank0["first_batch"] != rank1["first_batch"]  # each rank draws its own rows (seed * 2 + rank)
    whole0, whole1 = rank0["whole"], rank1["whole"]
    # batch_size 8 is the total (StyleGAN2-ADA's --batch): 4 images per process.
    assert (whole0["processes"], whole0["batch_per_process"]) == (2, 4)
    for field in ("G", "D", "G_ema", "ada_p", "pl_mean", "losses", "g_losses"):
        assert whole0[field] == whole1[field], field
    assert len(whole0["losses"]) == STEPS and whole0["pl_mean"] > 0
    assert max(whole0["ada_p"]) > 0  # p moved: the equal p comes from summed statistics, not from standing still


def test_a_two_process_fit_resumes_where_it_stopped(two_process_run) -> None:
    _, (rank0, rank1) = two_process_run
    for rank in (rank0, rank1):
        whole, resumed = rank["whole"], rank["resumed"]
        assert resumed["resumed_from_step"] == STEPS // 2
        for field in ("G", "D", "G_ema", "ada_p", "pl_mean", "losses"):
            assert resumed[field] == whole[field], field


def test_the_saved_model_is_rank_0s_and_translates(two_process_run) -> None:
    out, (rank0, _) = two_process_run
    loaded = PhenexWTranslator.load(out / "model")
    assert digest(loaded.G_ema) == rank0["whole"]["G_ema"]
    images = torch.rand(3, 2, 8, 8) * 2 - 1
    result = loaded.translate(images, 0, 1)
    assert result.images.shape == (3, 2, 8, 8) and torch.isfinite(result.images).all()
    checkpoint = torch.load(out / "whole" / STATE_FILE, weights_only=True)
    assert checkpoint["processes"] == 2 and checkpoint["draws"] == "per-step-v1" and "rng" not in checkpoint
    assert sorted(p.name for p in (out / "whole").iterdir()) == [STATE_FILE]  # written once, no leftover


def test_a_two_process_checkpoint_is_not_resumed_on_one_process(two_process_run) -> None:
    out, _ = two_process_run
    data = random_dataset(channels=2, image_size=8, per_condition=8)
    translator = PhenexWTranslator(tiny_config(STEPS + 2, **CONFIG), data.spec)
    with pytest.raises(ConfigError, match="2 process"):
        translator.fit(data, FitOptions(seed=5, device="cpu", progress=False, checkpoint_dir=out / "whole"))
