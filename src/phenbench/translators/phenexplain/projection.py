"""Projection of real images into W (one vector per image) or W+ (one vector per layer and image).

Follows stylegan2-ada-pytorch's projector: Adam on the latent and the per-layer noise inputs,
learning rate ramped up over the first 5 % of steps and down by a cosine over the last 25 %, latent
noise decaying over the first 75 %, noise inputs kept white by an autocorrelation penalty and
renormalised after each step. Changes: it starts from the source condition's centre in W (not the
unconditional mean), its loss is pixel MSE plus an optional perceptual term (not LPIPS alone), and a
whole batch is projected at once: every image has its own latent and noise, and the loss is a sum of
per-image terms, so (Adam being element-wise) each image follows the path it would follow alone.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from phenbench.translators.phenexplain.config import PhenexplainConfig
from phenbench.translators.phenexplain.generator import Generator
from phenbench.translators.phenexplain.perceptual import VGGPerceptualDistance

SPACES = ("w", "w+")


@dataclass
class Projection:
    """Projected latents of a batch, with the noise inputs found alongside them."""

    latents: torch.Tensor  # W: N x w_dim; W+: N x num_ws x w_dim
    noise: list[torch.Tensor]  # one N x 1 x r x r tensor per synthesis layer
    mse: torch.Tensor  # N: pixel MSE of the final reconstruction, in [-1, 1] units
    seconds: float
    steps: int
    space: str

    def ws(self, num_ws: int) -> torch.Tensor:
        """The latents as N x num_ws x w_dim (W repeated on every layer)."""
        return self.latents.unsqueeze(1).repeat(1, num_ws, 1) if self.space == "w" else self.latents

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / max(1, len(self.mse))


def noise_regularization(noise: list[torch.Tensor]) -> torch.Tensor:
    """Per image: squared autocorrelation of each noise map at 1-pixel shifts, over a pyramid."""
    total = torch.zeros(noise[0].shape[0], device=noise[0].device)
    for v in noise:
        while True:
            total = total + (v * v.roll(1, dims=3)).mean(dim=[1, 2, 3]).square()
            total = total + (v * v.roll(1, dims=2)).mean(dim=[1, 2, 3]).square()
            if v.shape[2] <= 8:
                break
            v = F.avg_pool2d(v, 2)
    return total


def learning_rate(step: int, config: PhenexplainConfig) -> float:
    t = step / config.projection_steps
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp *= min(1.0, t / config.lr_rampup) if config.lr_rampup > 0 else 1.0
    return config.projection_lr * ramp


def project(
    generator: Generator,
    images: torch.Tensor,
    start: torch.Tensor,
    spread: torch.Tensor,
    space: str,
    config: PhenexplainConfig,
    perceptual: VGGPerceptualDistance | None = None,
    rng: torch.Generator | None = None,
) -> Projection:
    """Project `images` (N x C x H x W) starting from the latents `start` (N x w_dim).

    `spread` (N) is the RMS distance of W samples from their condition centre: the latent noise
    added early in the optimisation is drawn at that scale.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    began = time.perf_counter()
    rng = rng or torch.Generator().manual_seed(config.projection_seed)
    device, n, num_ws = images.device, len(images), generator.num_ws
    generator = generator.eval().requires_grad_(False)
    latent = start.detach().clone() if space == "w" else start.detach().unsqueeze(1).repeat(1, num_ws, 1)
    latent.requires_grad_(True)
    noise = [v.requires_grad_(True) for v in generator.synthesis.make_noise(n, rng, device)]
    optimizer = torch.optim.Adam([latent, *noise], betas=(0.9, 0.999), lr=config.projection_lr)
    scale_shape = (n, 1) if space == "w" else (n, 1, 1)
    for step in range(config.projection_steps):
        t = step / config.projection_steps
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        noise_scale = spread.reshape(scale_shape) * config.initial_noise_factor * max(0.0, 1 - t / config.noise_ramp) ** 2
        jitter = torch.randn(latent.shape, generator=rng).to(latent) * noise_scale
        synthesised = generator.synthesis(_as_ws(latent + jitter, space, num_ws), noise=noise)
        per_image = config.mse_weight * (synthesised - images).square().mean(dim=[1, 2, 3])
        if perceptual is not None and config.perceptual_weight > 0:
            per_image = per_image + config.perceptual_weight * perceptual(synthesised, images)
        per_image = per_image + config.noise_regularization * noise_regularization(noise)
        optimizer.zero_grad(set_to_none=True)
        per_image.sum().backward()
        optimizer.step()
        with torch.no_grad():  # keep each image's noise maps at zero mean and unit variance
            for v in noise:
                v -= v.mean(dim=[1, 2, 3], keepdim=True)
                v *= v.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
    latent = latent.detach()
    noise = [v.detach() for v in noise]
    with torch.no_grad():
        final = generator.synthesis(_as_ws(latent, space, num_ws), noise=noise).clamp(-1, 1)
        mse = (final - images).square().mean(dim=[1, 2, 3])
    return Projection(latent, noise, mse, time.perf_counter() - began, config.projection_steps, space)


def _as_ws(latent: torch.Tensor, space: str, num_ws: int) -> torch.Tensor:
    return latent.unsqueeze(1).expand(-1, num_ws, -1) if space == "w" else latent


def concatenate(parts: list[Projection]) -> Projection:
    """Join the projections of consecutive batches."""
    first = parts[0]
    return Projection(
        latents=torch.cat([p.latents for p in parts]),
        noise=[torch.cat(maps) for maps in zip(*(p.noise for p in parts))],
        mse=torch.cat([p.mse for p in parts]),
        seconds=sum(p.seconds for p in parts),
        steps=first.steps,
        space=first.space,
    )
