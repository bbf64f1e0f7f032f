"""A tiny PhenDiff fit run by `torchrun --nproc_per_node 2` from test_multiprocess.py.

Every rank writes what it ended with (a digest of its EMA and live weights, its LR history and
loss curve) to OUT/rank-<r>.json; rank 0 also saves the model to OUT/model.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phendiff.config import PhenDiffConfig
from phenbench.translators.phendiff.translator import PhenDiffTranslator
from tests.torchrun import write_rank_record


def digest(module: torch.nn.Module) -> str:
    sha = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def main(out: Path, steps: int) -> None:
    torch.set_num_threads(1)
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    config = PhenDiffConfig(
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, num_train_timesteps=100,
        learning_rate=1e-3, lr_warmup_steps=2, steps=steps, batch_size=2, inversion_steps=2, inference_steps=2,
        gradient_accumulation_steps=2,  # gradients all-reduced on the second micro-batch only
    )
    translator = PhenDiffTranslator(config, data.spec)
    report = translator.fit(data, FitOptions(seed=5, progress=False, loader_workers=1))
    write_rank_record(out, {
        "processes": report.extra["processes"],
        "ema": digest(translator.ema_unet),
        "live": digest(translator.unet),
        "learning_rates": report.extra["learning_rates"],
        "losses": report.losses,
    }, translator)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
