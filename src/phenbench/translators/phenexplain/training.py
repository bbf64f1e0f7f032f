"""The StyleGAN2-ADA training loop: phases, lazy regularisation, EMA, ADA, checkpoints and resume.

Each step runs the phases of stylegan2-ada-pytorch's loop: G main, G path-length (every
`pl_interval` steps), D main, D R1 (every `r1_interval` steps), each generating from its own z and
conditions, style-mixed as in the original. Regularised phases run less often
with their weight scaled by the interval ("lazy regularisation"), and Adam's lr and betas are
adjusted for the extra optimiser steps as in the original. Every draw is a function of (seed, step,
rank): the real images come from epochs of seeded permutations (the reference's InfiniteSampler),
read ahead by `core/step_loader`; per step, a device generator draws the tensors (z, noise maps,
path-length directions) where they are used, and a host generator the small decisions (conditions,
style-mixing cutoffs, augmentation choices) the host needs without waiting for the device. So a
resumed run continues the same curve without any generator state in its checkpoint.

On several processes (accelerate, DDP), each trains batch_size / processes images per step and the
gradients are averaged, as the reference's batch_gpu per GPU. Two modules are distributed: the
generator as the phases call it (mapping, style mixing and synthesis in one forward, which is what
DDP synchronises) and D. The network that a phase does not train runs without synchronisation
(D in G's phases) or without gradients (G in D's). ADA's sign statistics, the path-length running
mean and the logged losses are reduced over processes, so every process keeps the same p, the same
running mean, and, from equal gradients, the same G, D and G_ema.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from phenbench.core.batch_plan import BatchPlan
from phenbench.core.config import config_to_dict
from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import DataError, PhenbenchError
from phenbench.core.loss_window import LossWindow
from phenbench.core.resume_guard import check_same_draws, check_same_processes
from phenbench.core.safe_checkpoint import load_checkpoint_state
from phenbench.core.seeding import derived_seed
from phenbench.core.step_loader import StepBatches, loader_workers, plan_rows, step_batches
from phenbench.core.translator import FitOptions
from phenbench.translators.phenexplain.augment import AdaptiveAugment
from phenbench.translators.phenexplain.config import PhenexplainConfig, Resolved
from phenbench.translators.phenexplain.discriminator import Discriminator
from phenbench.translators.phenexplain.generator import Generator
from phenbench.translators.phenexplain.losses import PathLength, discriminator_loss, generator_loss, r1_penalty

STATE_FILE = "phenexplain_training.pt"
# Recorded in every checkpoint: fits before it drew from one generator per process carried across steps.
DRAWS = "per-step-v1"
_FLIP_STREAM, _HOST_STREAM, _DEVICE_STREAM = 2, 3, 4  # derived_seed streams (the batch plan uses 1)
# Fields that do not change the networks or the training: a checkpoint stays valid across them.
NOT_TRAINING_FIELDS = {
    "steps", "centre_samples", "projection_steps", "projection_batch_size", "projection_lr", "lr_rampup",
    "lr_rampdown", "initial_noise_factor", "noise_ramp", "noise_regularization", "mse_weight",
    "perceptual_weight", "vgg16_weights", "projection_seed",
}


def _channels(config: PhenexplainConfig, hp: Resolved) -> dict[int, int]:
    return {2**i: hp.channels_at(2**i, config.channel_max) for i in range(2, int(np.log2(hp.resolution)) + 1)}


def build_generator(config: PhenexplainConfig, hp: Resolved, spec: DataSpec) -> Generator:
    return Generator(
        config.z_dim, config.w_dim, len(spec.conditions), config.mapping_layers, hp.resolution,
        spec.num_channels, _channels(config, hp), config.architecture_g,
    )


def build_discriminator(config: PhenexplainConfig, hp: Resolved, spec: DataSpec) -> Discriminator:
    return Discriminator(
        len(spec.conditions), hp.resolution, spec.num_channels, _channels(config, hp), config.architecture_d,
        hp.mbstd_group_size, config.d_mapping_layers,
    )


def _lazy_adam(params, lr: float, interval: int) -> torch.optim.Adam:
    """Adam with lr and betas scaled for the extra steps that lazy regularisation takes."""
    ratio = interval / (interval + 1)
    return torch.optim.Adam(params, lr=lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)


class StyleMixingGenerator(nn.Module):
    """The generator as the training phases call it: (z, conditions) -> (images, ws), style-mixed.

    Mapping, mixing and synthesis run in this one forward because DDP synchronises the gradients
    of what runs inside a wrapped module's forward.
    """

    def __init__(self, generator: nn.Module, mixing_probability: float):
        super().__init__()
        self.generator, self.mixing_probability = generator, mixing_probability

    def forward(self, z: torch.Tensor, conditions: torch.Tensor, rng: torch.Generator,
                noise_rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        G = self.generator
        ws = G.ws(z, conditions)
        # Style mixing: from a random layer in 1..num_ws-1 on, the w of another z under the same
        # condition. Cutoff and z are always drawn, so the random stream does not depend on the outcome.
        cutoff = int(torch.randint(1, G.num_ws, (), generator=rng)) if G.num_ws > 1 else 1
        other = torch.randn(z.shape, generator=noise_rng, device=noise_rng.device).to(z)
        if float(torch.rand((), generator=rng)) < self.mixing_probability:
            ws = torch.cat([ws[:, :cutoff], G.ws(other, conditions)[:, cutoff:]], dim=1)
        return G.synthesis(ws, generator=noise_rng), ws


@dataclass
class TrainingState:
    """Everything a resumed run needs to continue the same curve."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)
    d_losses: list[float] = field(default_factory=list)
    ada_p: list[float] = field(default_factory=list)
    seconds: float = 0.0


class _LossCurves:
    """The read-back rows `[G loss, D main loss]` of a window, appended to the state's three curves."""

    def __init__(self, state: TrainingState):
        self.state = state

    def extend(self, rows: list[list[float]]) -> None:
        for loss_g, loss_d in rows:
            self.state.g_losses.append(loss_g)
            self.state.d_losses.append(loss_d)
            self.state.losses.append(loss_g + loss_d)


class Trainer:
    """Trains a Generator/Discriminator pair on a prepared dataset's training split."""

    def __init__(self, config: PhenexplainConfig, hp: Resolved, generator: Generator,
                 discriminator: Discriminator, device: torch.device):
        self.config, self.hp, self.device = config, hp, device
        self.G, self.D = generator.to(device), discriminator.to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_g = _lazy_adam(self.G.parameters(), hp.learning_rate, config.pl_interval)
        self.opt_d = _lazy_adam(self.D.parameters(), hp.learning_rate, config.r1_interval)
        self.augment = AdaptiveAugment(config.ada_target, config.ada_interval, config.ada_kimg, hp.batch_size, device)
        self.path_length = PathLength(config.pl_decay)
        self.state = TrainingState()
        self.resumed_from_step = 0
        self.loader_workers = 0  # processes reading batches ahead, set by `train`
        # What the phases call; `distribute` replaces them by their DDP-wrapped versions.
        self.generate: nn.Module = StyleMixingGenerator(self.G, config.style_mixing_prob)
        self.discriminate: nn.Module = self.D
        self.accelerator: Any = None

    def distribute(self, accelerator: Any) -> None:
        """Train under `accelerator`: data parallel over its processes (unchanged on one)."""
        self.accelerator = accelerator
        self.generate, self.discriminate = accelerator.prepare(self.generate, self.discriminate)
        # DDP gave every process rank 0's weights: G_ema starts from them too.
        self.G_ema.load_state_dict(self.G.state_dict())
        self.path_length.mean_over_processes = lambda value: accelerator.reduce(value, reduction="mean")

    def _sum_over_processes(self, value: torch.Tensor) -> torch.Tensor:
        return value if self.accelerator is None else self.accelerator.reduce(value, reduction="sum")

    def _reaching_every_parameter(self, output: torch.Tensor) -> torch.Tensor | float:
        """A zero that depends on every parameter of the network that made `output`, on several processes.

        A regulariser misses parameters its gradient does not depend on (the last bias of G's image
        output, of D's score), and DDP waits for a gradient of each; the reference adds `output * 0`
        for that. Its zero gradients also make Adam count the step for those parameters, so on one
        process nothing is added: a one-process fit stays as it was.
        """
        if self.accelerator is None or self.accelerator.num_processes == 1:
            return 0.0
        return output.sum() * 0

    def _unsynchronised(self, module: nn.Module) -> Any:
        return contextlib.nullcontext() if self.accelerator is None else self.accelerator.no_sync(module)

    # --- one step --------------------------------------------------------------------------------

    def _draw_generated(self, n: int, labels: np.ndarray, rng: torch.Generator,
                        noise_rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """z (drawn by `noise_rng`, on its device) and conditions (drawn by `rng` from the training
        labels) for the fakes of one phase."""
        conditions = torch.as_tensor(labels[torch.randint(len(labels), (n,), generator=rng).numpy()]).to(self.device)
        z = torch.randn(n, self.config.z_dim, generator=noise_rng, device=noise_rng.device)
        return z.to(self.device), conditions

    def _generate(self, z: torch.Tensor, conditions: torch.Tensor, rng: torch.Generator,
                  noise_rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Fakes and the ws that made them (style-mixed with probability `style_mixing_prob`)."""
        return self.generate(z, conditions, rng, noise_rng)

    def _discriminate(self, images: torch.Tensor, conditions: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if self.config.augment:
            images = self.augment(images, rng)
        return self.discriminate(images, conditions)

    def step(self, real: torch.Tensor, real_c: torch.Tensor, labels: np.ndarray, rng: torch.Generator,
             noise_rng: torch.Generator | None = None) -> torch.Tensor:
        """One iteration of the four phases; each phase draws its own z and conditions, as the original.
        `rng` draws the host's decisions, `noise_rng` (default: `rng`) the tensors, on its device.

        Returns this process's (G loss, D main loss), detached, on the device.
        """
        config, hp, step = self.config, self.hp, self.state.step
        n = len(real)
        noise_rng = rng if noise_rng is None else noise_rng

        # G main: make D call the fakes real. D's weights are frozen (and its DDP wrapper not
        # synchronised: it makes no gradients); gradients pass through it to G.
        self.D.requires_grad_(False)
        z, gen_c = self._draw_generated(n, labels, rng, noise_rng)
        fakes, _ = self._generate(z, gen_c, rng, noise_rng)
        with self._unsynchronised(self.discriminate):
            loss_g = generator_loss(self._discriminate(fakes, gen_c, rng))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # G reg (lazy): path length on half a batch, its gain the interval.
        if config.pl_weight > 0 and step % config.pl_interval == 0:
            fakes, ws = self._generate(*self._draw_generated(max(1, n // 2), labels, rng, noise_rng), rng, noise_rng)
            penalty = self.path_length.penalty(fakes, ws, noise_rng)
            self.opt_g.zero_grad(set_to_none=True)
            (penalty * config.pl_weight * config.pl_interval + self._reaching_every_parameter(fakes)).backward()
            self.opt_g.step()
        self.D.requires_grad_(True)

        # D main: real vs fake; the generator is not trained here.
        z, gen_c = self._draw_generated(n, labels, rng, noise_rng)
        with torch.no_grad():
            fakes, _ = self._generate(z, gen_c, rng, noise_rng)
        real_logits = self._discriminate(real, real_c, rng)
        loss_d = discriminator_loss(real_logits, self._discriminate(fakes, gen_c, rng))
        self.augment.observe(real_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # D reg (lazy): R1 on the reals, gain gamma / 2 times the interval.
        if hp.r1_gamma > 0 and step % config.r1_interval == 0:
            real_tmp = real.detach().requires_grad_(True)
            real_logits = self._discriminate(real_tmp, real_c, rng)
            self.augment.observe(real_logits)  # the original counts these signs too
            penalty = r1_penalty(real_tmp, real_logits).mean()
            self.opt_d.zero_grad(set_to_none=True)
            (penalty * (hp.r1_gamma / 2) * config.r1_interval + self._reaching_every_parameter(real_logits)).backward()
            self.opt_d.step()

        self._update_ema(step)
        # The original counts the finished batch before its check (batch_idx += 1; batch_idx % interval):
        # p moves after the 4th, 8th ... step, from the signs of the steps since the last move.
        if config.augment and (step + 1) % config.ada_interval == 0:
            self.augment.adjust(self._sum_over_processes)
        return torch.stack([loss_g.detach(), loss_d.detach()])

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        batch = self.hp.batch_size  # over all processes: the reference counts images of the whole batch
        ema_nimg = self.hp.ema_kimg * 1000
        if self.config.ema_rampup is not None:
            # The original counts the images seen *before* this step: G_ema = G after the first one.
            ema_nimg = min(ema_nimg, step * batch * self.config.ema_rampup)
        beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # --- the loop ----------------------------------------------------------------------------------

    def train(self, dataset: PreparedDataset, options: FitOptions) -> TrainingState:
        """Train to `hp.steps`, resuming from `options.checkpoint_dir`, every draw seeded by
        (options.seed, step, rank)."""
        labels = dataset.labels("train")
        if len(labels) == 0:
            raise DataError(f"The dataset '{dataset.name}' has no training images; Phenexplain needs some.")
        checkpoint = Path(options.checkpoint_dir) if options.checkpoint_dir else None
        if checkpoint is not None and (checkpoint / STATE_FILE).exists():
            self._load_checkpoint(checkpoint / STATE_FILE, dataset)
            self.resumed_from_step = self.state.step
        start = time.perf_counter()
        seconds_before = self.state.seconds
        processes, rank = self._processes
        self.loader_workers = loader_workers(options.loader_workers, str(self.device))
        # Each process reads its own rows: the reference's batch_gpu per GPU.
        plan = BatchPlan(len(labels), self.hp.batch_per_process, processes, options.seed)
        # The original's --mirror: the data set doubled by its x-flips.
        reals = StepBatches(dataset, "train", torch.as_tensor(labels, dtype=torch.long), plan_rows(plan), rank,
                            options.seed, _FLIP_STREAM, 0.5 if self.config.mirror else 0.0, vertical_flips=False)
        batches = step_batches(reals, self.state.step, self.hp.steps, self.loader_workers, str(self.device))
        self.G.train()
        bar = tqdm(total=self.hp.steps, initial=self.state.step, desc="phenexplain fit", unit="step",
                   disable=not (options.progress and self._is_main))
        window = LossWindow(self.accelerator, _LossCurves(self.state))
        while self.state.step < self.hp.steps:
            real, real_c = (tensor.to(self.device, non_blocking=True) for tensor in next(batches))
            step = self.state.step
            host = torch.Generator().manual_seed(derived_seed(options.seed, _HOST_STREAM, step, rank))
            on_device = torch.Generator(device=self.device).manual_seed(
                derived_seed(options.seed, _DEVICE_STREAM, step, rank))
            loss = self.step(real, real_c, labels, host, on_device)
            self.state.step += 1
            self.state.ada_p.append(self.augment.p)
            self.state.seconds = seconds_before + time.perf_counter() - start
            bar.update(1)
            every = options.checkpoint_every
            # Always at the end (a finished fit is not repeated), and every `every` steps when asked.
            save = checkpoint is not None and (self.state.step == self.hp.steps or bool(every and self.state.step % every == 0))
            read = window.add(loss, self.state.step, options.log_every, self.hp.steps)
            if save:
                window.flush()  # the checkpoint holds the whole curve (nothing left if just read)
            if read or save:
                bar.set_postfix(g=f"{self.state.g_losses[-1]:.3f}", d=f"{self.state.d_losses[-1]:.3f}",
                                p=f"{self.augment.p:.2f}", refresh=False)
            if save:
                self._save_checkpoint(checkpoint, dataset)
        bar.close()
        return self.state

    @property
    def _is_main(self) -> bool:
        return self.accelerator is None or self.accelerator.is_main_process

    @property
    def _processes(self) -> tuple[int, int]:
        """(number of processes, this one's rank)."""
        return (1, 0) if self.accelerator is None else (self.accelerator.num_processes, self.accelerator.process_index)

    def _identity(self, dataset: PreparedDataset) -> dict[str, Any]:
        config = {k: v for k, v in config_to_dict(self.config).items() if k not in NOT_TRAINING_FIELDS}
        config["reference_gpus"] = self.hp.reference_gpus  # None means the process count: record what it was
        return {"config": config, "dataset": dataset.content_hash()}

    def _save_checkpoint(self, directory: Path, dataset: PreparedDataset) -> None:
        """Every process takes part (their ADA statistics are pooled); the main one writes."""
        self.augment.pool(self._sum_over_processes, keep=self._is_main)
        if self._is_main:
            directory.mkdir(parents=True, exist_ok=True)
            payload = {
                "identity": self._identity(dataset),
                "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "augment": self.augment.state_dict(), "pl_mean": self.path_length.mean,
                "draws": DRAWS, "processes": self._processes[0], "state": self.state.__dict__,
            }
            tmp = directory / (STATE_FILE + ".tmp")
            torch.save(payload, tmp)
            tmp.replace(directory / STATE_FILE)  # atomic: a crash never leaves half a checkpoint
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    def _load_checkpoint(self, path: Path, dataset: PreparedDataset) -> None:
        # Only tensors and plain values: a crafted file is refused, never unpickled into running code.
        # Read to the CPU (load_state_dict copies onto the networks' device; under a launcher on CPUs
        # that device is "cpu:0", which torch.load cannot map to).
        payload = load_checkpoint_state(path, fix="delete it, or run with --fresh to start the fit over")
        if not isinstance(payload, dict):
            raise PhenbenchError(f"{path} is not a Phenexplain training checkpoint; delete it to start over.")
        # The draws are a function of (seed, step, rank): on another process count they would not
        # continue (and the auto config may differ); nor would those of a checkpoint drawn otherwise.
        check_same_draws(payload.get("draws"), DRAWS, "Phenexplain", path.parent)
        check_same_processes(payload.get("processes", 1), self._processes[0], path.parent)
        if payload.get("identity") != self._identity(dataset):
            raise PhenbenchError(
                f"{path} was written by a Phenexplain run with another config or dataset; "
                "give a new --checkpoint directory or delete that file to start over."
            )
        self.G.load_state_dict(payload["G"])
        self.D.load_state_dict(payload["D"])
        self.G_ema.load_state_dict(payload["G_ema"])
        self.opt_g.load_state_dict(payload["opt_g"])
        self.opt_d.load_state_dict(payload["opt_d"])
        self.augment.load_state_dict(payload["augment"], with_pending=self._is_main)  # as `pool` left them
        self.path_length.mean = payload["pl_mean"]
        self.state = TrainingState(**payload["state"])
