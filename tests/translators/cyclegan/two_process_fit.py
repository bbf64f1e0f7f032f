"""A tiny CycleGAN fit of 3 pair models run by `torchrun --nproc_per_node 2` from test_multiprocess.py.

Every rank writes to OUT/rank-<r>.json the pairs it trained itself (seen by wrapping `fit_pair`), a
digest of every pair model it ended with, and its fit report's process count, trainers and loss
curve; rank 0 also saves the model to OUT/model. Checkpoints go to OUT/checkpoints.
The fit survives a wait between processes longer than their process group's timeout.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cyclegan import translator as cyclegan
from phenbench.translators.cyclegan.translator import CycleGANTranslator
from tests.torchrun import write_rank_record
from tests.translators.cyclegan.test_cyclegan_contract import tiny_config
from tests.translators.phendiff.two_process_fit import digest

STEPS = 2


def fitted(steps: int, **options) -> tuple[CycleGANTranslator, object]:
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    translator = CycleGANTranslator(tiny_config(steps), data.spec)
    report = translator.fit(data, FitOptions(seed=5, device="cpu", progress=False, **options))
    return translator, report


def main(out: Path) -> None:
    torch.set_num_threads(1)
    # A process group whose collectives give up after 10 s (torch's default: 30 minutes), and a rank
    # 0 that spends 12 s more on its last pair than it trains: rank 1 waits for it longer than that,
    # which only the long-timeout barrier of pair_sharing.py survives.
    torch.distributed.init_process_group("gloo", timeout=timedelta(seconds=10))
    trained_here = []
    fit_pair = cyclegan.fit_pair

    def recording_fit_pair(pair, *args, **kwargs):
        trained_here.append(list(pair))
        if list(pair) == [1, 2]:
            time.sleep(12)
        return fit_pair(pair, *args, **kwargs)

    cyclegan.fit_pair = recording_fit_pair
    translator, report = fitted(STEPS, checkpoint_dir=out / "checkpoints")
    write_rank_record(out, {
        "trained_here": trained_here,
        "models": {f"{a}-{b}": digest(model) for (a, b), model in translator.models.items()},
        "processes": report.extra["processes"],
        "trained_by_process": report.extra["trained_by_process"],
        "losses": report.losses,
    }, translator)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
