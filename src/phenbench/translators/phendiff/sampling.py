"""Deterministic DDIM inversion and generation on one timestep grid and one alpha table.

A `Denoiser` is the network seen by the samplers: `(samples, timestep, classes) -> model output`
(a v-prediction for the paper's model). Keeping it a plain callable lets tests plug in an analytic
denoiser whose inversion is exact when, and only when, both directions share the grid and alphas.

Noise levels are numbered 0 (the clean image, alpha = 1) to N (the most noisy); level k >= 1 is the
training timestep `grid[k - 1]`. Generation walks N -> 0 with `DDIMScheduler.step`, inversion
walks 0 -> N with `DDIMInverseScheduler.step`; both take their alphas from the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from phenbench.core.errors import ConfigError
from phenbench.translators.phendiff.model import DDIMInverseScheduler, DDIMScheduler, build_inverse_scheduler

Denoiser = Callable[[torch.Tensor, int, torch.Tensor], torch.Tensor]


@dataclass
class Grid:
    """The ascending training timesteps of N sampling steps and the schedulers that walk them."""

    timesteps: list[int]  # timesteps[k - 1] is the timestep of noise level k
    scheduler: DDIMScheduler
    inverse: DDIMInverseScheduler

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def alpha(self, level: int) -> float:
        """Cumulative alpha of a noise level (level 0 is the clean image)."""
        if level == 0:
            return float(self.scheduler.final_alpha_cumprod)
        return float(self.scheduler.alphas_cumprod[self.timesteps[level - 1]])


def make_grid(scheduler: DDIMScheduler, steps: int) -> Grid:
    """A grid of `steps` uniform timesteps, checked identical in both directions."""
    scheduler = DDIMScheduler.from_config(scheduler.config)  # a private copy: set_timesteps mutates
    inverse = build_inverse_scheduler(scheduler)
    scheduler.set_timesteps(steps)
    inverse.set_timesteps(steps)
    descending = scheduler.timesteps.tolist()
    ascending = inverse.timesteps.tolist()
    stride = scheduler.config.num_train_timesteps // steps
    uniform = all(b - a == stride for a, b in zip(ascending, ascending[1:])) and ascending[0] - stride < 0
    if ascending != descending[::-1] or not uniform:
        raise ConfigError(
            f"{steps} sampling steps with timestep_spacing='{scheduler.config.timestep_spacing}' do not give "
            "one uniform grid for inversion and generation; use 'leading' spacing and a step count that "
            "divides num_train_timesteps."
        )
    if not torch.equal(inverse.alphas_cumprod, scheduler.alphas_cumprod) or float(
        inverse.initial_alpha_cumprod
    ) != float(scheduler.final_alpha_cumprod):
        raise ConfigError("the inverse scheduler's alpha table differs from the generation scheduler's")
    return Grid(ascending, scheduler, inverse)


def guided(denoiser: Denoiser, null_class: int, scale: float) -> Denoiser:
    """Classifier-free guidance: uncond + scale * (cond - uncond), both halves in one batch."""
    if scale == 1.0:
        return denoiser

    def guided_denoiser(samples: torch.Tensor, timestep: int, classes: torch.Tensor) -> torch.Tensor:
        both = denoiser(
            torch.cat([samples, samples]), timestep, torch.cat([classes, torch.full_like(classes, null_class)])
        )
        conditional, unconditional = both.chunk(2)
        return unconditional + scale * (conditional - unconditional)

    return guided_denoiser


def ddim_invert(denoiser: Denoiser, images: torch.Tensor, classes: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Walk clean images up to level N (eta 0). NFE = N.

    The network is evaluated at the level the sample is at (the clean image borrows level 1's
    timestep, the lowest the network knows), and the step moves it one level up.
    """
    sample = images
    for level in range(grid.steps):
        label = grid.timesteps[max(level - 1, 0)]
        output = denoiser(sample, label, classes)
        sample = grid.inverse.step(output, grid.timesteps[level], sample).prev_sample
    return sample


def ddim_generate(denoiser: Denoiser, noise: torch.Tensor, classes: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Walk level-N samples down to clean images (eta 0). NFE = N (2N with guidance)."""
    sample = noise
    for timestep in reversed(grid.timesteps):
        output = denoiser(sample, timestep, classes)
        sample = grid.scheduler.step(output, timestep, sample, eta=0.0).prev_sample
    return sample
