"""CellFlux's training loop: conditional flow matching from control to treated cells.

Each step takes a batch of (control, target) pairs of the same plate (pairs.py). The control is
the path's source x_0, with Gaussian noise of std `noise_level` added to the whole batch with
probability `noise_probability` (CellFlux's `--use_initial 2`); the target cell is x_1. The time t
is drawn toward the data end (t = 1 / (1 + exp(N(-1.2, 1.2))), CellFlux's `skewed_timestep_sample`);
flow_matching's `CondOTProbPath` gives x_t = (1 - t) x_0 + t x_1 and its velocity x_1 - x_0, and
the loss is || v(x_t, t, c) - (x_1 - x_0) ||^2. With probability `condition_drop_probability` a
whole batch is trained under the null condition (classifier-free guidance).

accelerate runs it on one or many processes; an EMA copy (diffusers' EMAModel) is what translates.
Every random draw of a step is a pure function of (seed, step, rank), so a fit resumed from its
checkpoint replays exactly what an uninterrupted one does. As PhenDiff's, the loop feeds the device:
image pairs are read and flipped ahead by DataLoader workers (core/step_loader.py), noise and times
are drawn on the device, and the loss is read back once per `FitOptions.log_every` window.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from phenbench.core.accelerator import make_accelerator
from phenbench.core.batch_plan import BatchPlan
from phenbench.core.config import config_to_dict
from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import DataError
from phenbench.core.loss_window import LossWindow
from phenbench.core.resume_guard import check_same_processes
from phenbench.core.seeding import derived_seed
from phenbench.core.step_loader import StepBatches, loader_workers, step_batches
from phenbench.core.training_checkpoint import TrainingCheckpoints
from phenbench.core.translator import FitOptions, FitReport
from phenbench.translators.cellflux.config import TRANSLATION_SETTINGS, CellFluxConfig
from phenbench.translators.cellflux.model import VelocityNetwork, null_condition
from phenbench.translators.cellflux.pairs import training_pairs

# Settings that change only how long the fit runs or how the model samples: a checkpoint written
# under other values of these resumes.
RESUMABLE = {"steps", "epochs", *TRANSLATION_SETTINGS}
CHECKPOINTS = TrainingCheckpoints("cellflux-training.pt", "CellFlux", RESUMABLE)


def total_steps(config: CellFluxConfig, pairs: int, processes: int) -> int:
    """Optimizer steps of the fit: `steps` when set, else `epochs` passes over the training pairs."""
    if config.steps is not None:
        return config.steps
    return math.ceil(config.epochs * pairs / (config.batch_size * processes))


def skewed_times(n: int, config: CellFluxConfig, generator: torch.Generator, device: str | torch.device = "cpu",
                 ) -> torch.Tensor:
    """Times in [1e-4, 1], log-normal in sigma = (1 - t) / t: most of them near the data end."""
    if config.time_sampling == "uniform":
        return torch.rand(n, generator=generator, device=device)
    sigma = (torch.randn(n, generator=generator, device=device) * config.time_p_std + config.time_p_mean).exp()
    return (1.0 / (1.0 + sigma)).clamp(1e-4, 1.0)


def train(config: CellFluxConfig, spec: DataSpec, dataset: PreparedDataset, options: FitOptions,
          network: VelocityNetwork, evaluation: VelocityNetwork) -> FitReport:
    """Train `network` in place and copy its EMA weights into `evaluation`; return the report."""
    from diffusers.training_utils import EMAModel
    from flow_matching.path import CondOTProbPath

    control = _control_index(spec, dataset)
    pairs = training_pairs(dataset, control, config.learn_control_target, options.seed)
    labels = torch.as_tensor(np.asarray(dataset.labels("train")), dtype=torch.long)
    accelerator = make_accelerator(config.mixed_precision, options.device)
    steps = total_steps(config, len(pairs.targets), accelerator.num_processes)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate,
                                  betas=(config.adam_beta1, config.adam_beta2), weight_decay=config.weight_decay)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / config.lr_warmup_steps) if config.lr_warmup_steps else 1.0)
    ema = EMAModel(network.parameters(), decay=config.ema_decay, use_ema_warmup=False)
    start, losses = 0, []
    state = CHECKPOINTS.load(options.checkpoint_dir, config_to_dict(config), spec.to_dict())
    if state is not None:
        check_same_processes(state.get("processes"), accelerator.num_processes, options.checkpoint_dir)
        network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        ema.load_state_dict(state["ema"])
        start, losses = int(state["step"]), list(state["losses"])
    model, optimizer = accelerator.prepare(network, optimizer)
    ema.to(accelerator.device)
    path, null, device = CondOTProbPath(), null_condition(spec), accelerator.device
    plan = BatchPlan(len(pairs.targets), config.batch_size, accelerator.num_processes, options.seed)
    rank = accelerator.process_index
    # Control and target images read and flipped ahead of their step (core/step_loader.py).
    step_pairs = step_batches(
        StepBatches(dataset, "train", labels, partial(pairs.draw, plan), rank, options.seed, 2,
                    config.flip_probability),
        start, steps, loader_workers(options.loader_workers, str(device)), str(device))

    window = LossWindow(accelerator, losses)
    bar = tqdm(total=steps, initial=min(start, steps), unit="step",
               disable=not (options.progress and accelerator.is_main_process))
    began = time.perf_counter()
    model.train()
    for step in range(start, steps):
        x0, x1, conditions = (part.to(device, non_blocking=True) for part in next(step_pairs))
        # Batch-wide draws are shared by every process (rank left out of their seed).
        shared = torch.rand(2, generator=torch.Generator().manual_seed(derived_seed(options.seed, 3, step)))
        draw = torch.Generator(device=device).manual_seed(derived_seed(options.seed, 5, step, rank))
        noise = torch.randn(x0.shape, generator=draw, device=device)
        if shared[0].item() < config.noise_probability:
            x0 = x0 + config.noise_level * noise
        if shared[1].item() < config.condition_drop_probability:
            conditions = torch.full_like(conditions, null)
        t = skewed_times(len(x0), config, draw, device)
        sample = path.sample(x_0=x0, x_1=x1, t=t)
        with accelerator.autocast():
            prediction = model(sample.x_t, sample.t, conditions)
        loss = (prediction.float() - sample.dx_t).pow(2).mean()
        accelerator.backward(loss)
        if config.max_grad_norm is not None and accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(accelerator.unwrap_model(model).parameters())
        bar.update(1)
        done = step + 1
        if window.add(loss, done, options.log_every, steps):
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if options.checkpoint_dir is not None and options.checkpoint_every and done % options.checkpoint_every == 0:
            window.flush()
            _checkpoint(accelerator, options, config, spec, done, model, optimizer, lr_schedule, ema, losses)
    bar.close()
    seconds = time.perf_counter() - began
    trained = max(steps - start, 0)
    if options.checkpoint_dir is not None and trained:
        _checkpoint(accelerator, options, config, spec, steps, model, optimizer, lr_schedule, ema, losses)
    accelerator.wait_for_everyone()
    ema.copy_to(evaluation.parameters())  # the evaluation copy, never the live model
    pairs_per_second = trained * config.batch_size * accelerator.num_processes / seconds if trained else None
    return FitReport(
        steps=steps, seconds=seconds, images_per_second=pairs_per_second, losses=losses,
        extra={"resumed_from_step": start, "processes": accelerator.num_processes, **pairs.record()},
    )


def _control_index(spec: DataSpec, dataset: PreparedDataset) -> int:
    if spec.conditions.control is None:
        raise DataError(
            f"The dataset '{dataset.name}' names no control condition; CellFlux learns flows from control cells "
            "to treated ones. Set the dataset's control (e.g. control: DMSO in its config)."
        )
    return spec.conditions.index(spec.conditions.control)


def _checkpoint(accelerator: Any, options: FitOptions, config: CellFluxConfig, spec: DataSpec, step: int,
                model: torch.nn.Module, optimizer: Any, lr_schedule: Any, ema: Any, losses: list[float]) -> None:
    """Write the full training state (main process only); every process waits for it."""
    if accelerator.is_main_process:
        CHECKPOINTS.save(options.checkpoint_dir, {
            "step": step,
            "network": accelerator.unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_schedule": lr_schedule.state_dict(),
            "ema": ema.state_dict(),
            "losses": list(losses),
            "processes": accelerator.num_processes,
            "config": config_to_dict(config),
            "spec": spec.to_dict(),
        })
    accelerator.wait_for_everyone()

