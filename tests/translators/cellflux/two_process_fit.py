"""A tiny CellFlux fit run by `torchrun --nproc_per_node 2` from test_multiprocess.py.

Every rank writes what it ended with (a digest of its EMA and live weights, its loss curve, the
training pairs each rank drew at step 0) to OUT/rank-<r>.json; rank 0 also saves the model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.cellflux.translator import CellFluxTranslator
from tests.torchrun import write_rank_record
from tests.translators.cellflux.test_cellflux_contract import tiny_config
from tests.translators.phendiff.two_process_fit import digest


def main(out: Path, steps: int) -> None:
    torch.set_num_threads(1)
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    translator = CellFluxTranslator(tiny_config(steps, batch_size=2), data.spec)
    report = translator.fit(data, FitOptions(seed=5, device="cpu", progress=False))
    write_rank_record(out, {
        "processes": report.extra["processes"],
        "ema": digest(translator.ema_network),
        "live": digest(translator.network),
        "losses": report.losses,
    }, translator)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
