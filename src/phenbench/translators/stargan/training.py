"""One StarGAN training iteration: the WGAN-GP critic step and, every few, the generator step.

The losses are those of the reference code (yunjey/stargan, solver.py):
    D: -D_src(x) + D_src(G(x, c')) + lambda_cls * CE(D_cls(x), c) + lambda_gp * GP
    G: -D_src(G(x, c')) + lambda_cls * CE(D_cls(G(x, c')), c') + lambda_rec * |x - G(G(x, c'), c)|_1
with c the real condition, c' the target (the batch's conditions shuffled), and GP the gradient
penalty on random interpolates of real and translated images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from phenbench.translators.stargan.config import StarGANConfig
from phenbench.translators.stargan.networks import Discriminator, Generator


@dataclass
class Batch:
    """A training batch and the randomness it uses, all drawn from the fit's own generator."""

    real: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    mix: torch.Tensor  # interpolation weights of the gradient penalty, N x 1 x 1 x 1


def gradient_penalty(discriminator: Discriminator, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """Mean of (||grad_x D_src(x)||_2 - 1)^2 over interpolates of real and fake images."""
    interpolates = (mix * real + (1 - mix) * fake).requires_grad_(True)
    score, _ = discriminator(interpolates)
    (grad,) = torch.autograd.grad(score, interpolates, torch.ones_like(score), create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def critic_step(
    generator: Generator,
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: StarGANConfig,
) -> torch.Tensor:
    """Update the discriminator once; returns its total loss (on the device, not read back)."""
    score_real, logits_real = discriminator(batch.real)
    with torch.no_grad():
        fake = generator(batch.real, batch.target)
    score_fake, _ = discriminator(fake)
    loss = (
        -score_real.mean()
        + score_fake.mean()
        + config.lambda_cls * F.cross_entropy(logits_real, batch.source)
        + config.lambda_gp * gradient_penalty(discriminator, batch.real, fake, batch.mix)
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def generator_step(
    generator: Generator,
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: StarGANConfig,
) -> torch.Tensor:
    """Update the generator once; returns its total loss (on the device, not read back)."""
    fake = generator(batch.real, batch.target)
    score_fake, logits_fake = discriminator(fake)
    cycled = generator(fake, batch.source)
    loss = (
        -score_fake.mean()
        + config.lambda_cls * F.cross_entropy(logits_fake, batch.target)
        + config.lambda_rec * (batch.real - cycled).abs().mean()
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # The critic's gradients from this pass are never used: the critic step zeroes them first.
    optimizer.step()
    return loss.detach()


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
