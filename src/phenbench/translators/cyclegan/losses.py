"""One CycleGAN iteration on a pair of domains A and B (the reference code's optimize_parameters).

Generators: least-squares adversarial losses for G: A->B and F: B->A, the cycle losses
lambda_cycle * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1) and the identity losses
lambda_cycle * lambda_identity * (|G(b) - b|_1 + |F(a) - a|_1). Discriminators: the least-squares
loss on real images (target 1) and pooled fakes (target 0), halved.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from phenbench.translators.cyclegan.config import CycleGANConfig
from phenbench.translators.cyclegan.image_pool import ImagePool
from phenbench.translators.cyclegan.networks import PatchDiscriminator, ResnetGenerator, init_weights


class CycleGANPair(nn.Module):
    """The four networks of one CycleGAN model: G (A->B), F (B->A) and a discriminator per domain."""

    def __init__(self, channels: int, config: CycleGANConfig, blocks: int, discriminator_layers: int, *, train: bool):
        super().__init__()
        self.a_to_b = ResnetGenerator(channels, config.generator_filters, blocks)
        self.b_to_a = ResnetGenerator(channels, config.generator_filters, blocks)
        if train:
            self.judge_a = PatchDiscriminator(channels, config.discriminator_filters, discriminator_layers)
            self.judge_b = PatchDiscriminator(channels, config.discriminator_filters, discriminator_layers)
        init_weights(self)

    def generators(self) -> list[nn.Parameter]:
        return [*self.a_to_b.parameters(), *self.b_to_a.parameters()]

    def discriminators(self) -> list[nn.Parameter]:
        return [*self.judge_a.parameters(), *self.judge_b.parameters()]

    def generator_state(self) -> dict[str, torch.Tensor]:
        """The two generators' weights on the CPU: what translation needs, without the discriminators."""
        return {key: value.detach().cpu() for key, value in self.state_dict().items()
                if key.startswith(("a_to_b.", "b_to_a."))}


def least_squares(scores: torch.Tensor, real: bool) -> torch.Tensor:
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def train_iteration(
    model: CycleGANPair,
    g_optimizer: torch.optim.Optimizer,
    d_optimizer: torch.optim.Optimizer,
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    pools: tuple[ImagePool, ImagePool],
    rng: torch.Generator,
    config: CycleGANConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Update both generators, then both discriminators; returns (generator loss, discriminator loss),
    on the device (not read back: the caller reads a window of them at once). `rng` is a CPU
    generator: the pools decide on the host."""
    fake_b = model.a_to_b(real_a)
    fake_a = model.b_to_a(real_b)
    # Discriminators are held fixed while the generators learn (no gradient into them).
    model.judge_a.requires_grad_(False)
    model.judge_b.requires_grad_(False)
    identity_weight = config.lambda_cycle * config.lambda_identity
    g_loss = (
        least_squares(model.judge_b(fake_b), True)
        + least_squares(model.judge_a(fake_a), True)
        + config.lambda_cycle * (model.b_to_a(fake_b) - real_a).abs().mean()
        + config.lambda_cycle * (model.a_to_b(fake_a) - real_b).abs().mean()
    )
    if identity_weight > 0:
        g_loss = g_loss + identity_weight * (
            (model.a_to_b(real_b) - real_b).abs().mean() + (model.b_to_a(real_a) - real_a).abs().mean()
        )
    g_optimizer.zero_grad(set_to_none=True)
    g_loss.backward()
    g_optimizer.step()

    model.judge_a.requires_grad_(True)
    model.judge_b.requires_grad_(True)
    pool_a, pool_b = pools
    pooled_b = pool_b.query(fake_b.detach(), rng)
    pooled_a = pool_a.query(fake_a.detach(), rng)
    d_loss = 0.5 * (least_squares(model.judge_b(real_b), True) + least_squares(model.judge_b(pooled_b), False)) + 0.5 * (
        least_squares(model.judge_a(real_a), True) + least_squares(model.judge_a(pooled_a), False)
    )
    d_optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    d_optimizer.step()
    return g_loss.detach(), d_loss.detach()


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
