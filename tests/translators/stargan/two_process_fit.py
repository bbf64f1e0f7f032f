"""Tiny StarGAN fits run by `torchrun --nproc_per_node 2` from test_multiprocess.py.

Every rank writes to OUT/rank-<r>.json what it ended with: a digest of its generator and its loss
curves after a 4-iteration fit, the same after a fit stopped at 2 iterations and resumed to 4, and
how far one data-parallel training iteration (each rank on half a batch) lands from the same
iteration on one process with the whole batch. Rank 0 also saves the first model to OUT/model.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import torch

from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.stargan.training import Batch, critic_step, generator_step
from phenbench.translators.stargan.translator import StarGANTranslator
from tests.torchrun import write_rank_record
from tests.translators.phendiff.two_process_fit import digest
from tests.translators.stargan.test_stargan_contract import tiny_config

CONFIG = tiny_config(4, critic_steps=2)


def fit(data, steps: int, checkpoint_dir: Path) -> tuple[StarGANTranslator, dict]:
    translator = StarGANTranslator(dataclasses.replace(CONFIG, steps=steps), data.spec)
    report = translator.fit(data, FitOptions(seed=5, device="cpu", progress=False, checkpoint_dir=checkpoint_dir,
                                             checkpoint_every=1))
    return translator, {"processes": report.extra["processes"], "generator": digest(translator.generator),
                        "losses": report.losses, "generator_losses": report.extra["generator_losses"]}


def data_parallel_gap(translator: StarGANTranslator, data) -> float:
    """Largest weight difference between one iteration under DDP (each rank on its half of a batch)
    and the same iteration on one process with the whole batch, both with plain SGD (whose step is
    proportional to the gradient, so a sum instead of a mean of the ranks' gradients would show)."""
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    generator, discriminator = translator._new_generator(), translator._new_discriminator()
    whole = Batch(real=data.read("train", list(range(8))), source=torch.as_tensor(data.labels("train")[:8]),
                  target=torch.tensor([2, 0, 1, 1, 0, 2, 2, 0]), mix=torch.rand(8, 1, 1, 1))
    alone = [copy.deepcopy(generator), copy.deepcopy(discriminator)]
    alone_optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in alone]
    critic_step(alone[0], alone[1], alone_optimizers[1], whole, CONFIG)
    generator_step(alone[0], alone[1], alone_optimizers[0], whole, CONFIG)

    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (generator, discriminator)]
    g, d, g_optimizer, d_optimizer = accelerator.prepare(generator, discriminator, *optimizers)
    half = slice(accelerator.process_index * 4, accelerator.process_index * 4 + 4)
    mine = Batch(real=whole.real[half], source=whole.source[half], target=whole.target[half], mix=whole.mix[half])
    critic_step(g, d, d_optimizer, mine, CONFIG)
    with accelerator.no_sync(d):
        generator_step(g, d, g_optimizer, mine, CONFIG)
    pairs = zip([*generator.parameters(), *discriminator.parameters()], [*alone[0].parameters(), *alone[1].parameters()])
    return max((a - b).abs().max().item() for a, b in pairs)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    data = random_dataset(channels=2, image_size=8, per_condition=4)
    translator, record = fit(data, 4, out / "full")
    fit(data, 2, out / "resumed")
    _, record["resumed"] = fit(data, 4, out / "resumed")
    record["data_parallel_gap"] = data_parallel_gap(translator, data)
    write_rank_record(out, record, translator)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
