"""The CycleGAN config and its presets.

Field defaults are the published hyper-parameters of Zhu et al. (2017) and their reference code
(junyanz/pytorch-CycleGAN-and-pix2pix): a ResNet generator with 64 base filters (6 residual blocks
up to 128 px, 9 above), a 3-layer 70 x 70 PatchGAN, least-squares GAN loss, lambda_cycle 10,
identity weight 0.5, Adam(2e-4, 0.5, 0.999), batch 1, a pool of 50 past fakes for the
discriminators, a constant learning rate followed by a linear decay to zero of equal length
(100 + 100 epochs in the paper, an epoch being max(|A|, |B|) images), and the reference code's
training augmentation: each image resized to 286/256 of its size (bicubic), randomly cropped back,
and flipped left-right with probability 1/2. The schedule is given in epochs and turned into
iterations per pair model from its data (`schedule`), or in iterations (`steps`, `decay_steps`).
"""

from __future__ import annotations

import math
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
    # The paper's schedule in epochs (an epoch: max(|A|, |B|) images, as the reference's unaligned
    # data set), turned into iterations from each pair model's data.
    epochs: int = 100
    decay_epochs: int = 100
    # Or the schedule in iterations (both given): the total and the decaying part, per pair model.
    steps: int | None = None
    decay_steps: int | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cycle: float = 10.0
    # Weight of the identity loss relative to lambda_cycle (the reference code's lambda_identity).
    lambda_identity: float = 0.5
    pool_size: int = 50
    # The reference's training augmentation: resize to load_scale x the size (286 / 256), random crop
    # back to the size (1 turns both off), and a random left-right flip.
    load_scale: float = 286 / 256
    horizontal_flip: bool = True
    # Images per generator call at translation time (memory, not results).
    translate_batch_size: int = 64

    def __post_init__(self) -> None:
        positive = ("generator_filters", "discriminator_filters", "discriminator_layers", "batch_size",
                    "translate_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"CycleGAN config: {name} must be at least 1, got {getattr(self, name)}.")
        for name in ("steps", "decay_steps", "pool_size", "epochs", "decay_epochs"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"CycleGAN config: {name} must not be negative, got {value}.")
        if (self.steps is None) != (self.decay_steps is None):
            raise ConfigError("CycleGAN config: give both steps and decay_steps (iterations), or neither (epochs).")
        if self.load_scale < 1:
            raise ConfigError(f"CycleGAN config: load_scale must be at least 1 (1: no resize and crop), got {self.load_scale}.")
        if self.residual_blocks is not None and self.residual_blocks < 0:
            raise ConfigError(f"CycleGAN config: residual_blocks must not be negative, got {self.residual_blocks}.")

    def blocks_for(self, image_size: int) -> int:
        if self.residual_blocks is not None:
            return self.residual_blocks
        return 6 if image_size <= 128 else 9

    def schedule(self, images_per_epoch: int) -> "Schedule":
        """Iterations of one pair model whose larger domain has `images_per_epoch` training images."""
        if self.steps is not None:
            return Schedule(self.steps, self.decay_steps)
        per_epoch = math.ceil(images_per_epoch / self.batch_size)
        return Schedule((self.epochs + self.decay_epochs) * per_epoch, self.decay_epochs * per_epoch)


@dataclass(frozen=True)
class Schedule:
    """A pair model's run length in iterations, the last `decay_steps` of them decaying the rate."""

    steps: int
    decay_steps: int

    def learning_rate(self, base: float, step: int) -> float:
        """Constant, then linear decay to zero over the last `decay_steps`."""
        start = self.steps - self.decay_steps
        if self.decay_steps == 0 or step < start:
            return base
        return base * max(0.0, 1.0 - (step - start) / self.decay_steps)


# Settings that change only how a trained model translates, never its weights.
TRANSLATION_SETTINGS = frozenset({"translate_batch_size"})

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
