"""Deterministic DDIM inversion and generation on one timestep grid and one alpha table.

A `Denoiser` is the network seen by the samplers: `(samples, timestep, classes) -> model output`
(a v-prediction for the paper's model). Keeping it a plain callable lets tests plug in an analytic
denoiser whose inversion is exact when, and only when, both directions share the grid and alphas.

Noise levels are numbered 0 (the clean image, alpha = 1) to N (the most noisy); level k >= 1 is the
training timestep `grid[k - 1]`. Generation walks N -> 0 with `DDIMScheduler.step`, inversion
walks 0 -> N with `DDIMInverseScheduler.step`; both take their alphas from the same table.

Plain DDIM inversion is only approximate: it evaluates the network at the level the sample is at,
while generation evaluates it at the level above. `fixed_point_invert` closes that gap (AIDI, Pan
et al., ICCV 2023; ReNoise, Garibi et al., ECCV 2024; Hong et al., CVPR 2024): each step solves for
the sample one level up that the generation step itself maps back, so generation stays plain DDIM.
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
            "one uniform grid for inversion and generation; use a step count that divides "
            "num_train_timesteps."
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


def fixed_point_gain(grid: Grid, level: int, prediction_type: str) -> float:
    """The step size of the fixed-point iteration from `level` to `level + 1`.

    It is the inverse of the generation step's derivative in its sample when the model output is
    held fixed: a Newton step for a network whose output does not depend on its input. For a
    v-prediction, with alpha = cos^2(phi), the DDIM step is cos(dphi) z - sin(dphi) v, so the gain
    is 1 / cos(dphi): finite at every level, the alpha = 0 top of a zero-terminal-SNR schedule
    included. For an epsilon-prediction it is sqrt(alpha_{k+1} / alpha_k) (AIDI's iteration).
    """
    below, above = grid.alpha(level), grid.alpha(level + 1)
    if prediction_type == "v_prediction":
        return 1.0 / ((below * above) ** 0.5 + ((1 - below) * (1 - above)) ** 0.5)
    if prediction_type == "epsilon":
        return (above / below) ** 0.5
    raise ConfigError(
        f"fixed-point inversion supports v_prediction and epsilon models, not prediction_type="
        f"'{prediction_type}'; set inversion_iterations: 0 for plain DDIM inversion."
    )


def anderson_step(points: list[torch.Tensor], residuals: list[torch.Tensor], memory: int = 1) -> torch.Tensor:
    """The next iterate of a fixed-point iteration z <- z + r(z), by Anderson acceleration (type II).

    Per image, the newest residual is combined with up to `memory` earlier ones so that their
    differences cancel it as far as a least-squares fit can: for a map whose Jacobian is a scalar
    per image (the analytic Gaussian case) two residuals give the exact answer, where the plain
    iteration converges only geometrically. With one residual it is the plain step. A tiny ridge
    keeps the fit defined once the residuals are at float precision.
    """
    points, residuals = points[-memory - 1:], residuals[-memory - 1:]
    z, r = points[-1], residuals[-1]
    if len(points) == 1:
        return z + r
    flat = lambda t: t.flatten(1).double()  # noqa: E731
    d_r = torch.stack([flat(b) - flat(a) for a, b in zip(residuals, residuals[1:])], dim=-1)
    d_z = torch.stack([flat(b) - flat(a) for a, b in zip(points, points[1:])], dim=-1)
    gram = d_r.transpose(1, 2) @ d_r
    ridge = 1e-8 * gram.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(1e-30)
    gram = gram + ridge[:, None, None] * torch.eye(gram.shape[-1], dtype=gram.dtype)
    gamma = torch.linalg.solve(gram, d_r.transpose(1, 2) @ flat(r)[..., None])
    step = flat(z) + flat(r) - ((d_z + d_r) @ gamma)[..., 0]
    return step.reshape(z.shape).to(z.dtype)


def fixed_point_invert(denoiser: Denoiser, images: torch.Tensor, classes: torch.Tensor, grid: Grid,
                       iterations: int, prediction_type: str) -> torch.Tensor:
    """Walk clean images up to level N so that `ddim_generate` walks back to them. NFE = N (1 + iterations).

    Each step starts from the plain inverse-DDIM guess z and solves G_k(z) = x_k, where G_k is the
    generation step from level k + 1 (the network evaluated at z, at the destination level,
    clipping included): the residual gain * (x_k - G_k(z)) is driven to zero by Anderson-accelerated
    fixed-point iteration. At convergence G_k(z) = x_k exactly, whatever the network. With
    `iterations = 0` this is `ddim_invert`.

    Safeguard: an image whose residual grew (a pixel the clipped step cannot reach, say) goes back
    to its best point so far and takes a plain step from there, so more iterations never do worse.
    """
    sample = images
    for level in range(grid.steps):
        label = grid.timesteps[max(level - 1, 0)]
        timestep = grid.timesteps[level]
        guess = grid.inverse.step(denoiser(sample, label, classes), timestep, sample).prev_sample
        gain = fixed_point_gain(grid, level, prediction_type) if iterations else 0.0
        points: list[torch.Tensor] = []
        residuals: list[torch.Tensor] = []
        best_norm = torch.full((len(images),), float("inf"), dtype=torch.float64, device=images.device)
        for _ in range(iterations):
            regenerated = grid.scheduler.step(denoiser(guess, timestep, classes), timestep, guess,
                                              eta=0.0).prev_sample
            residual = gain * (sample - regenerated)
            norm = residual.flatten(1).double().norm(dim=1)
            worse = norm > best_norm
            if points and bool(worse.any()):
                keep = worse.view(-1, *([1] * (guess.ndim - 1)))
                guess = torch.where(keep, points[-1], guess)
                residual = torch.where(keep, residuals[-1], residual)
            best_norm = torch.minimum(best_norm, norm)
            points.append(guess)
            residuals.append(residual)
            guess = anderson_step(points, residuals)
            if bool(worse.any()):  # from the best point, a plain step only
                plain = points[-1] + residuals[-1]
                guess = torch.where(worse.view(-1, *([1] * (guess.ndim - 1))), plain, guess)
        sample = guess
    return sample
