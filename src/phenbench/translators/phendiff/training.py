"""PhenDiff's training loop: accelerate, AdamW, a cosine LR schedule, EMA and exact resume.

Three defects of the research code are avoided on purpose:
- the EMA weights live in their own `EMAModel`; they are copied into a separate evaluation UNet,
  never onto the live model, so training continues from the live weights;
- the LR schedule is not handed to `accelerator.prepare` (which would step it once per process per
  optimizer step): it is stepped once per optimizer step, so its length is in optimizer steps
  whatever the number of processes;
- training, inversion and generation share one scheduler config (see `model.py`, `sampling.py`).

Randomness that shapes a step (its batch, flips, noise, timesteps, unconditional draw) is a pure
function of (seed, step, rank), so a resumed run replays exactly what an uninterrupted one does;
the global RNG states are checkpointed as well, for anything else that draws from them.

The loop keeps the device busy: batches are read and flipped ahead by DataLoader workers
(core/step_loader.py; pinned memory on CUDA), noise and timesteps are drawn on the device from a
generator seeded per step, and the loss stays on the device: it is averaged across processes and
read back once every `FitOptions.log_every` steps (one all-reduce and one sync for the whole window,
not one per step). `gradient_accumulation_steps` sums several micro-batches into one optimizer step
(gradients synchronised across processes on the last one only).
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from phenbench.core.accelerator import make_accelerator
from phenbench.core.batch_plan import BatchPlan
from phenbench.core.config import config_to_dict
from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import ConfigError, DataError
from phenbench.core.loss_window import LossWindow
from phenbench.core.resume_guard import check_same_processes
from phenbench.core.seeding import derived_seed
from phenbench.core.step_loader import StepBatches, loader_workers, plan_rows, step_batches
from phenbench.core.translator import FitOptions, FitReport
from phenbench.translators.phendiff.checkpoint import (
    load_latest_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from phenbench.translators.phendiff.config import TRANSLATION_SETTINGS, PhenDiffConfig
from phenbench.translators.phendiff.model import UNet2DModel, build_scheduler, null_class


def scaled_learning_rate(config: PhenDiffConfig, processes: int) -> float:
    """The peak learning rate of a fit on `processes` processes (the original run: x sqrt(GPUs))."""
    if config.learning_rate_scaling == "sqrt-processes":
        return config.learning_rate * math.sqrt(processes)
    return config.learning_rate


def _model_fingerprint(config: PhenDiffConfig, spec: DataSpec) -> dict:
    """What must match for a checkpoint to be resumable (all but the run's length and the translation settings)."""
    data = config_to_dict(config)
    for name in ("steps", *TRANSLATION_SETTINGS):
        data.pop(name, None)
    return {"config": data, "spec": spec.to_dict()}


def train(config: PhenDiffConfig, spec: DataSpec, dataset: PreparedDataset, options: FitOptions,
          live: UNet2DModel, evaluation: UNet2DModel) -> FitReport:
    """Train `live` in place and copy its EMA weights into `evaluation`; return the report."""
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel

    labels = torch.as_tensor(dataset.labels("train"), dtype=torch.long)
    if len(labels) == 0:
        raise DataError(f"The dataset '{dataset.name}' has no training images; PhenDiff needs some to fit.")
    accelerator = make_accelerator(config.mixed_precision, options.device)
    noise_scheduler = build_scheduler(config)
    optimizer = torch.optim.AdamW(
        live.parameters(), lr=scaled_learning_rate(config, accelerator.num_processes), betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.weight_decay, eps=config.adam_epsilon,
    )
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, config.lr_warmup_steps, max(config.steps, 1))
    ema = EMAModel(
        live.parameters(), decay=config.ema_max_decay, use_ema_warmup=True,
        inv_gamma=config.ema_inv_gamma, power=config.ema_power,
    )
    start, losses, learning_rates = 0, [], []
    state = load_latest_checkpoint(options.checkpoint_dir)
    if state is not None:
        if state["fingerprint"] != _model_fingerprint(config, spec):
            raise ConfigError(
                f"The checkpoint in {options.checkpoint_dir} was written for another model or data "
                "(only `steps` may change on resume); use a fresh checkpoint_dir."
            )
        check_same_processes(state.get("processes"), accelerator.num_processes, options.checkpoint_dir)
        live.load_state_dict(state["live"])
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        ema.load_state_dict(state["ema"])
        restore_rng_states(state["rng"])
        start, losses, learning_rates = state["step"], list(state["losses"]), list(state["learning_rates"])
        # The schedule's length may have changed (a longer run): take the LR of the new schedule.
        for group, base, factor in zip(optimizer.param_groups, lr_schedule.base_lrs, lr_schedule.lr_lambdas):
            group["lr"] = base * factor(lr_schedule.last_epoch)
    model, optimizer = accelerator.prepare(live, optimizer)
    ema.to(accelerator.device)
    device, rank, processes = accelerator.device, accelerator.process_index, accelerator.num_processes
    accumulate = config.gradient_accumulation_steps
    # Micro-step m of the plan is micro-batch m % accumulate of optimizer step m // accumulate.
    plan = BatchPlan(len(labels), config.batch_size, processes, options.seed)
    batches = StepBatches(dataset, "train", labels, plan_rows(plan), rank, options.seed, 2, 0.5 if config.random_flips else 0.0)
    micro_batches = step_batches(batches, start * accumulate, config.steps * accumulate,
                                 loader_workers(options.loader_workers, str(device)), str(device))
    null = null_class(spec)
    timesteps = config.num_train_timesteps
    window = LossWindow(accelerator, losses)

    bar = tqdm(total=config.steps, initial=min(start, config.steps), unit="step",
               disable=not (options.progress and accelerator.is_main_process))
    began = time.perf_counter()
    model.train()
    for step in range(start, config.steps):
        # The draw is shared by every process (same seed, rank 0) so a whole global batch goes unconditional.
        unconditional_draw = torch.Generator().manual_seed(derived_seed(options.seed, 3, step))
        unconditional = torch.rand(1, generator=unconditional_draw).item() < config.unconditional_probability
        step_loss = torch.zeros((), device=device)
        for micro in range(accumulate):
            images, classes = next(micro_batches)
            index = step * accumulate + micro
            images = images.to(device, non_blocking=True)
            classes = classes.to(device, non_blocking=True)
            if unconditional:
                classes = torch.full_like(classes, null)
            noise_draw = torch.Generator(device=device).manual_seed(derived_seed(options.seed, 4, index, rank))
            noise = torch.randn(images.shape, generator=noise_draw, device=device)
            t = torch.randint(0, timesteps, (len(images),), generator=noise_draw, device=device)
            noisy = noise_scheduler.add_noise(images, noise, t)
            target = noise_scheduler.get_velocity(images, noise, t)
            # Gradients are all-reduced on the last micro-batch only.
            syncing = micro == accumulate - 1
            with nullcontext() if syncing else accelerator.no_sync(model):
                with accelerator.autocast():
                    prediction = model(noisy, t, class_labels=classes).sample
                loss = F.mse_loss(prediction.float(), target)
                accelerator.backward(loss / accumulate)
            step_loss = step_loss + loss.detach() / accumulate
        accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        learning_rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        lr_schedule.step()  # once per optimizer step, in every process
        optimizer.zero_grad(set_to_none=True)
        ema.step(accelerator.unwrap_model(model).parameters())
        done = step + 1
        bar.update(1)
        if window.add(step_loss, done, options.log_every, config.steps):
            seconds = time.perf_counter() - began
            bar.set_postfix(loss=f"{losses[-1]:.4f}",
                            img_s=f"{(done - start) * config.batch_size * accumulate * processes / seconds:.1f}")
        if options.checkpoint_dir is not None and options.checkpoint_every and done % options.checkpoint_every == 0:
            window.flush()
            _checkpoint(accelerator, options, config, spec, done, model, optimizer, lr_schedule, ema,
                        losses, learning_rates)
    bar.close()
    seconds = time.perf_counter() - began
    trained = max(config.steps - start, 0)
    if options.checkpoint_dir is not None and trained:
        _checkpoint(accelerator, options, config, spec, config.steps, model, optimizer, lr_schedule, ema,
                    losses, learning_rates)
    accelerator.wait_for_everyone()
    ema.copy_to(evaluation.parameters())  # the evaluation copy, never the live model
    images_per_second = (trained * config.batch_size * accumulate * processes / seconds) if trained else None
    return FitReport(
        steps=config.steps, seconds=seconds, images_per_second=images_per_second, losses=losses,
        extra={"learning_rates": learning_rates, "resumed_from_step": start,
               "processes": processes, "ema_decay": float(ema.cur_decay_value or 0.0),
               "loader_workers": loader_workers(options.loader_workers, str(device))},
    )


def _checkpoint(accelerator: Any, options: FitOptions, config: PhenDiffConfig, spec: DataSpec, step: int,
                model: torch.nn.Module, optimizer: Any, lr_schedule: Any, ema: Any,
                losses: list[float], learning_rates: list[float]) -> None:
    """Write the full training state (main process only); every process waits for it."""
    if accelerator.is_main_process:
        state = {
            "step": step,
            "live": accelerator.unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_schedule": lr_schedule.state_dict(),
            "ema": ema.state_dict(),
            "rng": rng_states(),
            "losses": list(losses),
            "learning_rates": list(learning_rates),
            "fingerprint": _model_fingerprint(config, spec),
            "processes": accelerator.num_processes,
        }
        save_checkpoint(options.checkpoint_dir, step, state)
    accelerator.wait_for_everyone()
