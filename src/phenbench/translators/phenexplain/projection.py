"""Projection of real images into W (one vector per image) or W+ (one vector per layer and image).

Follows stylegan2-ada-pytorch's projector: Adam on the latent and the per-layer noise inputs,
learning rate ramped up over the first 5 % of steps and down by a cosine over the last 25 %, latent
noise decaying over the first 75 %, noise inputs kept white by an autocorrelation penalty and
renormalised after each step; its loss LPIPS (VGG16), here with an optional pixel MSE beside it.
Changes: it starts from the source condition's centre in W (not the unconditional mean), and a
whole batch is projected at once. Every image has its own latent and noise maps, the loss is a sum
of per-image terms and Adam is element-wise, so each image follows the path it would follow alone;
and every random draw of an image (its starting noise maps, its latent jitter at each step) comes
from its own generator, seeded by the projection seed, the image's pixels and its condition. So an
image projects to the same result alone, at any position of any batch, at any batch size.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from phenbench.translators.phenexplain.config import PhenexplainConfig
from phenbench.translators.phenexplain.generator import Generator
from phenbench.translators.phenexplain.perceptual import LPIPSDistance

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

    def image(self, index: int) -> "Projection":
        """Image `index` alone, carrying its share of the batch's time."""
        keep = slice(index, index + 1)
        return Projection(self.latents[keep], [v[keep] for v in self.noise], self.mse[keep],
                          self.seconds_per_image, self.steps, self.space)


def image_seed(image: torch.Tensor, source: int, projection_seed: int) -> int:
    """The seed of one image's random draws: from the projection seed, its pixels and its condition."""
    digest = hashlib.sha256(f"{projection_seed}:{source}:".encode())
    digest.update(image.detach().float().cpu().contiguous().numpy().tobytes())
    return int.from_bytes(digest.digest()[:8], "little") & (2**63 - 1)


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
    perceptual: LPIPSDistance | None = None,
    seeds: list[int] | None = None,
) -> Projection:
    """Project `images` (N x C x H x W) starting from the latents `start` (N x w_dim).

    `spread` (N) is the RMS distance of W samples from their condition centre: the latent noise
    added early in the optimisation is drawn at that scale. `seeds` (one per image; default: each
    image's `image_seed` under condition 0) seed each image's random draws.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    began = time.perf_counter()
    device, n, num_ws = images.device, len(images), generator.num_ws
    seeds = seeds if seeds is not None else [image_seed(image, 0, config.projection_seed) for image in images]
    rngs = [torch.Generator().manual_seed(seed) for seed in seeds]
    generator = generator.eval().requires_grad_(False)
    latent = start.detach().clone() if space == "w" else start.detach().unsqueeze(1).repeat(1, num_ws, 1)
    latent.requires_grad_(True)
    per_image_noise = [generator.synthesis.make_noise(1, rng) for rng in rngs]
    noise = [torch.cat(maps).to(device).requires_grad_(True) for maps in zip(*per_image_noise)]
    optimizer = torch.optim.Adam([latent, *noise], betas=(0.9, 0.999), lr=config.projection_lr)
    use_perceptual = perceptual is not None and config.perceptual_weight > 0
    with torch.no_grad():  # the target's features are the same at every step
        target = perceptual.features(images) if use_perceptual else None
    scale_shape = (n, 1) if space == "w" else (n, 1, 1)
    for step in range(config.projection_steps):
        t = step / config.projection_steps
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        noise_scale = spread.reshape(scale_shape) * config.initial_noise_factor * max(0.0, 1 - t / config.noise_ramp) ** 2
        jitter = torch.cat([torch.randn((1, *latent.shape[1:]), generator=rng) for rng in rngs]).to(latent)
        synthesised = generator.synthesis(_as_ws(latent + jitter * noise_scale, space, num_ws), noise=noise)
        per_image = config.noise_regularization * noise_regularization(noise)
        if config.mse_weight > 0:
            per_image = per_image + config.mse_weight * (synthesised - images).square().mean(dim=[1, 2, 3])
        if use_perceptual:
            per_image = per_image + config.perceptual_weight * perceptual.distance_to(target, synthesised)
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
