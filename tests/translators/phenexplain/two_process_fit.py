"""Tiny Phenexplain fits run by `torchrun --nproc_per_node 2` from test_multiprocess.py.

In one launch (the launch costs more than the fits): a fit of STEPS steps, one of STEPS // 2
steps resumed to STEPS from its checkpoint, and one training step of each process on its half of
a fixed batch (`one_step`). Every rank writes what it ended with to OUT/rank-<r>.json (digests of
G, D and G_ema, the ADA p after each step, the path-length running mean, the loss curves, a digest
of the real images it trained on first); rank 0 saves the first fit's model to OUT/model, as the
runner does, and the networks after `one_step` to OUT/one_step.pt.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

from phenbench.core.accelerator import make_accelerator
from phenbench.core.translator import FitOptions
from phenbench.datasets.in_memory import random_dataset
from phenbench.translators.phenexplain.config import resolve
from phenbench.translators.phenexplain.training import Trainer, build_discriminator, build_generator
from phenbench.translators.phenexplain.translator import PhenexWTranslator
from tests.translators.phendiff.two_process_fit import digest
from tests.translators.phenexplain.test_contract import tiny_config

# Every phase every other step (path length, R1), style mixing, mirror, and an ADA target that
# the signs of D(real) cross, so p moves both ways from statistics that differ between the ranks.
CONFIG = dict(batch_size=8, pl_weight=2.0, style_mixing_prob=0.9, mirror=True, ada_target=0.0, ada_interval=2,
              ada_kimg=0.2, learning_rate=0.01)
trainers: list[Trainer] = []
first_batches: list[str] = []


def spy_on_the_trainer() -> None:
    """Keep each fit's Trainer (its G and D are not kept by the translator) and its first real batch."""
    train, step = Trainer.train, Trainer.step

    def kept_train(self, *args, **kwargs):
        trainers.append(self)
        return train(self, *args, **kwargs)

    def recorded_step(self, real, *args, **kwargs):
        if self.state.step == 0:
            first_batches.append(hashlib.sha256(real.numpy().tobytes()).hexdigest())
        return step(self, real, *args, **kwargs)

    Trainer.train, Trainer.step = kept_train, recorded_step


def fit(data, steps: int, checkpoint: Path | None) -> tuple[PhenexWTranslator, dict]:
    translator = PhenexWTranslator(tiny_config(steps, **CONFIG), data.spec)
    report = translator.fit(data, FitOptions(seed=5, device="cpu", progress=False, checkpoint_dir=checkpoint))
    trainer = trainers[-1]
    return translator, {
        "G": digest(trainer.G), "D": digest(trainer.D), "G_ema": digest(trainer.G_ema),
        "ada_p": trainer.state.ada_p, "pl_mean": float(trainer.path_length.mean),
        "losses": report.losses, "g_losses": report.extra["g_losses"],
        "processes": report.extra["processes"], "batch_per_process": report.extra["batch_per_process"],
        "resumed_from_step": report.extra["resumed_from_step"],
    }


class FixedDraws:
    """Stands in for Trainer._draw_generated and PathLength.directions: the k-th call's draws are rows
    of one table for all processes, process r taking rows r n .. (r + 1) n (one process: all of them)."""

    def __init__(self, processes: int, rank: int, z_dim: int):
        self.processes, self.rank, self.z_dim, self.calls = processes, rank, z_dim, 0

    def _table(self) -> torch.Generator:
        self.calls += 1
        return torch.Generator().manual_seed(100 + self.calls)

    def _share(self, table: torch.Tensor) -> torch.Tensor:
        n = len(table) // self.processes
        return table[self.rank * n : (self.rank + 1) * n]

    def __call__(self, n: int, labels, rng, noise_rng=None) -> tuple[torch.Tensor, torch.Tensor]:
        table = self._table()
        z = torch.randn(n * self.processes, self.z_dim, generator=table)
        return self._share(z), self._share(torch.randint(0, 3, (n * self.processes,), generator=table))

    def directions(self, shape: torch.Size, rng) -> torch.Tensor:
        """For PathLength.directions, from a table likewise."""
        return self._share(torch.randn(shape[0] * self.processes, *shape[1:], generator=self._table()))


def one_step(processes: int, rank: int, accelerator=None) -> Trainer:
    """One step of all four phases with plain SGD, on this process's share of 8 fixed real images.

    Nothing random is left: fixed z, conditions and path-length directions, zero noise inputs, no augmentation or mixing, a
    one-image std group, path-length decay 0 (its running mean stays 0, so the penalty is a plain
    mean). Data parallel averages the processes' gradients, so N processes on N shares of the batch
    take the step one process takes on the whole batch.
    """
    data = random_dataset(channels=2, image_size=8, per_condition=8)
    config = tiny_config(1, batch_size=8, augment=False, style_mixing_prob=0.0, pl_weight=2.0, pl_decay=0.0,
                         r1_gamma=1.0, mbstd_group_size=1)
    hp = resolve(config, 8, processes)
    torch.manual_seed(0)
    trainer = Trainer(config, hp, build_generator(config, hp, data.spec), build_discriminator(config, hp, data.spec),
                      torch.device("cpu"))
    trainer.opt_g = torch.optim.SGD(trainer.G.parameters(), lr=0.5)
    trainer.opt_d = torch.optim.SGD(trainer.D.parameters(), lr=0.5)
    if accelerator is not None:
        trainer.distribute(accelerator)
    trainer._draw_generated = draws = FixedDraws(processes, rank, config.z_dim)
    trainer.path_length.directions = draws.directions
    synthesis = trainer.G.synthesis
    synthesis.make_noise = lambda n, generator=None, device=None: [
        torch.zeros(n, 1, r, r) for r in synthesis.noise_resolutions()]
    labels = data.labels("train")
    rows = list(range(rank * hp.batch_per_process, (rank + 1) * hp.batch_per_process))
    trainer.step(data.read("train", rows), torch.as_tensor(labels[rows]), labels, torch.Generator().manual_seed(0))
    return trainer


def main(out: Path, steps: int) -> None:
    torch.set_num_threads(1)
    spy_on_the_trainer()
    data = random_dataset(channels=2, image_size=8, per_condition=8)
    translator, whole = fit(data, steps, out / "whole")
    fit(data, steps // 2, out / "resumed")
    _, resumed = fit(data, steps, out / "resumed")
    from accelerate import PartialState

    rank = PartialState().process_index
    stepped = one_step(2, rank, make_accelerator("no", "cpu"))
    record = {"whole": whole, "resumed": resumed, "first_batch": first_batches[0],
              "one_step": {name: digest(getattr(stepped, name)) for name in ("G", "D", "G_ema")}}
    (out / f"rank-{rank}.json").write_text(json.dumps(record))
    if rank == 0:
        translator.save(out / "model")
        torch.save({name: getattr(stepped, name).state_dict() for name in ("G", "D", "G_ema")}, out / "one_step.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
