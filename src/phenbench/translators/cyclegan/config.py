"""The CycleGAN config and its presets.

Field defaults are the published hyper-parameters of Zhu et al. (2017) and their reference code
(junyanz/pytorch-CycleGAN-and-pix2pix): a ResNet generator with 64 base filters (6 residual blocks
up to 128 px, 9 above), a 3-layer 70 x 70 PatchGAN, least-squares GAN loss, lambda_cycle 10,
identity weight 0.5, Adam(2e-4, 0.5, 0.999), batch 1, a pool of 50 past fakes for the
discriminators, and a constant learning rate followed by a linear decay to zero of equal length
(100 + 100 epochs in the paper). phenbench counts iterations, not epochs: `steps` is the total
and `decay_steps` the decaying part, per pair model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phenbench.core.errors import ConfigError


@dataclass(frozen=True)
class CycleGANConfig:
    """Architecture, losses and schedule of each pair model of a CycleGAN translator."""

    generator_filters: int = 64
    # None: the paper's choice by size (6 blocks up to 128 x 128, 9 above).
    residual_blocks: int | None = None
    discriminator_filters: int = 64
    # The paper's 3 stride-2 layers (the 70 x 70 PatchGAN), fewer for small images.
    discriminator_layers: int = 3
    batch_size: int = 1
    steps: int = 200_000
    decay_steps: int = 100_000
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cycle: float = 10.0
    # Weight of the identity loss relative to lambda_cycle (the reference code's lambda_identity).
    lambda_identity: float = 0.5
    pool_size: int = 50
    # Images per generator call at translation time (memory, not results).
    translate_batch_size: int = 64

    def __post_init__(self) -> None:
        positive = ("generator_filters", "discriminator_filters", "discriminator_layers", "batch_size",
                    "translate_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"CycleGAN config: {name} must be at least 1, got {getattr(self, name)}.")
        for name in ("steps", "decay_steps", "pool_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"CycleGAN config: {name} must not be negative, got {getattr(self, name)}.")
        if self.residual_blocks is not None and self.residual_blocks < 0:
            raise ConfigError(f"CycleGAN config: residual_blocks must not be negative, got {self.residual_blocks}.")

    def blocks_for(self, image_size: int) -> int:
        if self.residual_blocks is not None:
            return self.residual_blocks
        return 6 if image_size <= 128 else 9

    def learning_rate(self, step: int) -> float:
        """Constant, then linear decay to zero over the last `decay_steps`."""
        start = self.steps - self.decay_steps
        if self.decay_steps == 0 or step < start:
            return self.lr
        return self.lr * max(0.0, 1.0 - (step - start) / self.decay_steps)


PRESETS: dict[str, dict[str, Any]] = {
    # The published hyper-parameters (see the module docstring).
    "paper": {},
    # Learns the synthetic 64 x 64 world on 2 CPU cores in minutes per pair model: narrower
    # networks, 3 residual blocks, batch 4, a doubled learning rate; the losses and their weights stay the paper's.
    "quick": {
        "generator_filters": 16,
        "residual_blocks": 3,
        "discriminator_filters": 16,
        "batch_size": 4,
        "steps": 200,
        "decay_steps": 50,
        "lr": 4e-4,
    },
}
