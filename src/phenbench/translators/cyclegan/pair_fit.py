"""Fit one CycleGAN pair model, with checkpoints and resume.

Each pair model has its own seed (derived from the run's seed and the pair) and its own checkpoint
folder, so the models of a run do not depend on the order in which they are trained, and a resumed
run continues each model's loss curve exactly.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from phenbench.core.dataset import PreparedDataset
from phenbench.core.loss_window import LossWindow
from phenbench.core.resume_guard import check_same_draws
from phenbench.core.step_loader import step_batches
from phenbench.translators.cyclegan.augment import augment
from phenbench.translators.cyclegan.batches import DRAWS, augment_generator, pair_batches, pool_generator
from phenbench.translators.cyclegan.checkpoint import load_checkpoint, save_checkpoint
from phenbench.translators.cyclegan.config import CycleGANConfig
from phenbench.translators.cyclegan.image_pool import ImagePool
from phenbench.translators.cyclegan.losses import CycleGANPair, set_learning_rate, train_iteration


@dataclass
class PairFit:
    """What fitting one pair model did; seconds include the time before a resume."""

    model: CycleGANPair | None  # None in the record handed to other processes (without_model)
    steps: int = 0  # this model's run length in iterations
    generator_losses: list[float] = field(default_factory=list)
    discriminator_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_now: float = 0.0
    steps_now: int = 0
    resumed_from: int = 0

    def without_model(self) -> "PairFit":
        """This record without its networks (the trained generators travel as `generator_state`)."""
        return dataclasses.replace(self, model=None)


def pair_seed(seed: int, pair: tuple[int, int]) -> int:
    """A seed per pair model that does not depend on which other pairs a run trains."""
    return (seed * 1_000_003 + pair[0] * 1_009 + pair[1]) % (2**63)


def fit_pair(
    pair: tuple[int, int],
    rows: tuple[np.ndarray, np.ndarray],
    dataset: PreparedDataset,
    config: CycleGANConfig,
    *,
    channels: int,
    blocks: int,
    discriminator_layers: int,
    seed: int,
    device: torch.device,
    checkpoint_dir: Path | None,
    checkpoint_every: int | None,
    progress: bool,
    identity: dict,
    label: str,
    log_every: int = 10,
    workers: int = 0,
) -> PairFit:
    """Train the model of `pair` (domain A = pair[0], B = pair[1]) on the training rows of each:
    batches read ahead by `workers` processes, losses read back every `log_every` iterations."""
    seed = pair_seed(seed, pair)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CycleGANPair(channels, config, blocks, discriminator_layers, train=True)
    model.to(device).train()
    betas = (config.beta1, config.beta2)
    g_optimizer = torch.optim.Adam(model.generators(), config.lr, betas=betas)
    d_optimizer = torch.optim.Adam(model.discriminators(), config.lr, betas=betas)
    pools = (ImagePool(config.pool_size), ImagePool(config.pool_size))
    schedule = config.schedule(max(len(rows[0]), len(rows[1])))
    result = PairFit(model=model, steps=schedule.steps)

    state = load_checkpoint(checkpoint_dir, identity["config"], identity["spec"])
    start = 0
    if state is not None:
        check_same_draws(state.get("draws"), DRAWS, "CycleGAN", checkpoint_dir)
        model.load_state_dict(state["model"])
        g_optimizer.load_state_dict(state["generator_optimizer"])
        d_optimizer.load_state_dict(state["discriminator_optimizer"])
        for pool, saved in zip(pools, state["pools"]):
            pool.load_state_dict(saved, device)
        start = result.resumed_from = state["step"]
        result.generator_losses = list(state["g_losses"])
        result.discriminator_losses = list(state["d_losses"])
        result.seconds = state["seconds"]

    windows = (LossWindow(None, result.generator_losses), LossWindow(None, result.discriminator_losses))

    def checkpoint(step: int, seconds: float) -> None:
        for window in windows:
            window.flush()
        save_checkpoint(checkpoint_dir, {
            "model": model.state_dict(),
            "generator_optimizer": g_optimizer.state_dict(),
            "discriminator_optimizer": d_optimizer.state_dict(),
            "pools": [pool.state_dict() for pool in pools],
            "draws": DRAWS,
            "step": step,
            "g_losses": result.generator_losses,
            "d_losses": result.discriminator_losses,
            "seconds": seconds,
            **identity,
        })

    batches = step_batches(pair_batches(dataset, rows, config.batch_size, seed), start, schedule.steps,
                           workers, str(device))
    began = time.perf_counter()
    bar = tqdm(total=schedule.steps, initial=min(start, schedule.steps), desc=label, disable=not progress)
    for step in range(start, schedule.steps):
        set_learning_rate(g_optimizer, schedule.learning_rate(config.lr, step))
        set_learning_rate(d_optimizer, schedule.learning_rate(config.lr, step))
        real_a, real_b, _ = (tensor.to(device, non_blocking=True) for tensor in next(batches))
        crops = augment_generator(seed, step, device)
        real_a, real_b = augment(real_a, config, crops), augment(real_b, config, crops)
        g_loss, d_loss = train_iteration(model, g_optimizer, d_optimizer, real_a, real_b, pools,
                                         pool_generator(seed, step), config)
        done = step + 1
        windows[1].keep(d_loss)
        if windows[0].add(g_loss, done, log_every, schedule.steps):
            windows[1].flush()
            bar.set_postfix(g_loss=f"{result.generator_losses[-1]:.3f}",
                            d_loss=f"{result.discriminator_losses[-1]:.3f}", refresh=False)
        bar.update(1)
        if checkpoint_dir is not None and (done == schedule.steps or (checkpoint_every and done % checkpoint_every == 0)):
            checkpoint(done, result.seconds + time.perf_counter() - began)
    bar.close()
    result.seconds_now = time.perf_counter() - began
    result.seconds += result.seconds_now
    result.steps_now = max(0, schedule.steps - start)
    model.eval()
    return result
