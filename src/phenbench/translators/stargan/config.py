"""The StarGAN config and its presets.

Field defaults are the published hyper-parameters of Choi et al. (2018) and their reference code
(yunjey/stargan): 64 base filters, 6 residual blocks, a 6-layer PatchGAN discriminator, WGAN-GP with
5 critic steps per generator step, Adam(1e-4, 0.5, 0.999), batch 16, lambda_cls 1, lambda_rec 10,
lambda_gp 10, 200,000 iterations with the learning rate decayed linearly to zero over the last
100,000, and the reference's training augmentation: a random left-right flip of each image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phenbench.core.errors import ConfigError


@dataclass(frozen=True)
class StarGANConfig:
    """Architecture, losses and schedule of a StarGAN translator.

    `steps` counts discriminator iterations (the reference code's `num_iters`); the generator is
    updated every `critic_steps` of them.
    """

    generator_filters: int = 64
    residual_blocks: int = 6
    discriminator_filters: int = 64
    # The paper's 6 stride-2 layers, fewer for small images (the output map keeps at least 2 x 2).
    discriminator_layers: int = 6
    batch_size: int = 16
    steps: int = 200_000
    decay_steps: int = 100_000
    critic_steps: int = 5
    generator_lr: float = 1e-4
    discriminator_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0
    # The reference's RandomHorizontalFlip: each training image mirrored with probability 1/2.
    horizontal_flip: bool = True
    # Images per generator call at translation time (memory, not results).
    translate_batch_size: int = 64

    def __post_init__(self) -> None:
        positive = ("generator_filters", "discriminator_filters", "discriminator_layers", "batch_size",
                    "critic_steps", "translate_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"StarGAN config: {name} must be at least 1, got {getattr(self, name)}.")
        if self.residual_blocks < 0 or self.steps < 0 or self.decay_steps < 0:
            raise ConfigError("StarGAN config: residual_blocks, steps and decay_steps must not be negative.")

    def learning_rate(self, base: float, step: int) -> float:
        """Constant, then linear decay to zero over the last `decay_steps` (as the reference code)."""
        start = self.steps - self.decay_steps
        if self.decay_steps == 0 or step < start:
            return base
        return base * max(0.0, 1.0 - (step - start) / self.decay_steps)


# Settings that change only how a trained model translates, never its weights.
TRANSLATION_SETTINGS = frozenset({"translate_batch_size"})

PRESETS: dict[str, dict[str, Any]] = {
    # The published hyper-parameters (see the module docstring).
    "paper": {},
    # Learns the synthetic 64 x 64 world on 2 CPU cores in minutes: narrower, shallower networks and
    # two critic steps per generator step; the losses and their weights stay the paper's.
    "quick": {
        "generator_filters": 16,
        "residual_blocks": 3,
        "discriminator_filters": 16,
        "discriminator_layers": 4,
        "batch_size": 8,
        "steps": 1500,
        "decay_steps": 400,
        "critic_steps": 2,
        "generator_lr": 2e-4,
        "discriminator_lr": 2e-4,
    },
}
