"""Phenexplain's config, its presets, and the StyleGAN2-ADA "auto" rules that fill it in per image size.

Fields left as None are resolved at the image size by `resolve`, exactly as stylegan2-ada-pytorch's
`train.py --cfg=auto --gpus=G` does, with G = `reference_gpus`, or the number of processes the fit
runs on when that is None (the reference's own case: G is the GPU count of the run): batch =
max(min(G * min(4096 // res, 32), 64), G), minibatch-std group min(batch / G, 4), fmaps 0.5 below
512 px, lr 0.0025 below 1024 px, gamma = 0.0002 * res^2 / batch, ema = batch * 10 / 32 kimg, 25000
kimg. `batch_size` is the total over all processes, as the reference's `--batch`: each process
trains batch_size / processes images per step (the reference's batch_gpu) and DDP averages their
gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from phenbench.core.errors import ConfigError

ARCHITECTURES = ("skip", "resnet")
PAPER_TOTAL_KIMG = 25_000


@dataclass(frozen=True)
class PhenexplainConfig:
    """Networks, training, condition centres and projection of Phenexplain (defaults: the paper's)."""

    # --- networks -----------------------------------------------------------------------------
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2  # the "auto" config uses 2 (not StyleGAN2's 8)
    d_mapping_layers: int = 8  # the discriminator's condition mapping (projection conditioning)
    channel_base: int | None = None  # None: 16384 below 512 px, 32768 from 512 px
    channel_max: int = 512
    architecture_g: str = "skip"
    architecture_d: str = "resnet"
    mbstd_group_size: int | None = None  # None: min(batch, 4)
    # --- training -----------------------------------------------------------------------------
    # GPUs of the run being reproduced: StyleGAN2-ADA's "auto" config scales batch, gamma and EMA with it.
    # None: the number of processes this fit runs on (train.py --gpus on the machine at hand).
    reference_gpus: int | None = None
    mirror: bool = False  # train.py --mirror: each real image x-flipped with probability 1/2
    steps: int | None = None  # None: 25000 kimg at the batch size
    batch_size: int | None = None  # over all processes (train.py --batch); None: the auto rule
    learning_rate: float | None = None
    r1_gamma: float | None = None  # None: 0.0002 * res^2 / batch
    r1_interval: int = 16
    pl_weight: float = 2.0  # 0 turns path-length regularisation off
    pl_interval: int = 4
    pl_decay: float = 0.01
    style_mixing_prob: float = 0.9
    ema_kimg: float | None = None  # None: batch * 10 / 32
    ema_rampup: float | None = 0.05
    augment: bool = True  # adaptive augmentation (a reduced ADA pipeline, see docs/phenexplain.md)
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    # --- condition centres in W -----------------------------------------------------------------
    centre_samples: int = 10_000
    # --- projection of real images ------------------------------------------------------------
    projection_steps: int = 1000
    projection_batch_size: int = 16
    projection_lr: float = 0.1
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    initial_noise_factor: float = 0.05
    noise_ramp: float = 0.75
    noise_regularization: float = 1e5
    mse_weight: float = 1.0
    perceptual_weight: float = 0.0  # > 0 needs local VGG16 weights (nothing downloads)
    vgg16_weights: str | None = None  # a torchvision VGG16 state dict; None: the torch hub cache
    projection_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("architecture_g", "architecture_d"):
            if getattr(self, name) not in ARCHITECTURES:
                raise ConfigError(f"{name} must be one of {', '.join(ARCHITECTURES)}, got {getattr(self, name)!r}.")
        positive = ("z_dim", "w_dim", "channel_max", "r1_interval", "pl_interval", "ada_interval", "reference_gpus",
                    "centre_samples", "projection_steps", "projection_batch_size")
        for name in positive + ("steps", "batch_size", "channel_base", "mbstd_group_size"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "steps" else 1):
                raise ConfigError(f"Phenexplain config {name} must be positive, got {value}.")
        if self.mapping_layers < 1 or self.d_mapping_layers < 1:
            raise ConfigError("mapping_layers and d_mapping_layers must be at least 1.")
        if not 0.0 <= self.style_mixing_prob <= 1.0:
            raise ConfigError(f"style_mixing_prob must lie in [0, 1], got {self.style_mixing_prob}.")
        if min(self.mse_weight, self.perceptual_weight, self.pl_weight, self.noise_regularization) < 0:
            raise ConfigError("loss weights (mse, perceptual, pl, noise_regularization) must be >= 0.")
        if self.mse_weight == 0 and self.perceptual_weight == 0:
            raise ConfigError(
                "projection needs a loss: set mse_weight or perceptual_weight above 0 (without LPIPS's "
                "VGG16 weights on this machine, use perceptual_weight: 0 and mse_weight: 1)."
            )


PRESETS: dict[str, dict] = {
    # Phenexplain's own training run: `train.py --cfg=auto --mirror=1 --cond=1` on 4 GPUs (at 128 px:
    # batch 64, gamma 0.0512, EMA 20 kimg); condition centres from 100,000 samples per condition (its
    # method 2); projection as StyleGAN2-ADA's projector: 1000 steps of LPIPS (VGG16) alone, which
    # needs the VGG16 weights on disk (see docs/phenexplain.md).
    "paper": {
        "reference_gpus": 4,
        "mirror": True,
        "centre_samples": 100_000,
        "perceptual_weight": 1.0,
        "mse_weight": 0.0,
    },
    # Between the two: a mid-sized network with the paper's regularisers, pixel-only projection of
    # 300 steps. Hours on a CPU at 64 px, minutes on a GPU.
    "small": {
        "z_dim": 128,
        "w_dim": 128,
        "d_mapping_layers": 2,
        "channel_base": 4096,
        "channel_max": 128,
        "steps": 5000,
        "batch_size": 16,
        "ema_kimg": 2.0,
        "ada_kimg": 100.0,
        "centre_samples": 5000,
        "projection_steps": 300,
        "projection_batch_size": 32,
    },
    # Minutes on a CPU: a narrow network, no path-length term, fast-moving ADA, short projection.
    "quick": {
        "z_dim": 64,
        "w_dim": 64,
        "d_mapping_layers": 2,
        "channel_base": 2048,
        "channel_max": 64,
        "steps": 600,
        "batch_size": 16,
        "learning_rate": 0.0025,
        "pl_weight": 0.0,
        "style_mixing_prob": 0.0,
        "ema_kimg": 0.5,
        "ada_kimg": 20.0,
        "centre_samples": 1000,
        "projection_steps": 150,
        "projection_batch_size": 32,
    },
}


@dataclass(frozen=True)
class Resolved:
    """The hyperparameters that the "auto" rules fill in at one image size."""

    resolution: int
    reference_gpus: int
    processes: int  # of the fit: each trains batch_size / processes images per step
    batch_size: int  # over all processes
    channel_base: int
    learning_rate: float
    r1_gamma: float
    ema_kimg: float
    mbstd_group_size: int
    steps: int

    @property
    def batch_per_process(self) -> int:
        """The images one process trains per step (the reference's batch_gpu)."""
        return self.batch_size // self.processes

    def channels_at(self, resolution: int, channel_max: int) -> int:
        return min(self.channel_base // resolution, channel_max)


def check_resolution(image_size: int) -> int:
    """The image size as a power of two >= 8 (StyleGAN2 grows by doubling from 4 x 4)."""
    log2 = math.log2(image_size) if image_size > 0 else -1
    if image_size < 8 or log2 != int(log2):
        raise ConfigError(
            f"Phenexplain's StyleGAN2 needs a square power-of-two image size of at least 8 "
            f"(32 to 256 in practice), got {image_size}. Resize or crop the data first."
        )
    return image_size


def resolve(config: PhenexplainConfig, image_size: int, processes: int = 1) -> Resolved:
    """Fill the None fields of `config` by the StyleGAN2-ADA auto rules at `image_size`, for a fit on
    `processes` processes (the GPU count of the auto rules when `reference_gpus` is None)."""
    res, gpus = check_resolution(image_size), config.reference_gpus or processes
    batch = config.batch_size or max(min(gpus * min(4096 // res, 32), 64), gpus)
    if batch % processes:
        raise ConfigError(
            f"Phenexplain's batch_size {batch} is the total over all processes (StyleGAN2-ADA's --batch) and must be "
            f"a multiple of the {processes} processes of this fit; set batch_size to a multiple of {processes}."
        )
    return Resolved(
        resolution=res,
        reference_gpus=gpus,
        processes=processes,
        batch_size=batch,
        channel_base=config.channel_base or int((1 if res >= 512 else 0.5) * 32768),
        learning_rate=config.learning_rate or (0.002 if res >= 1024 else 0.0025),
        r1_gamma=config.r1_gamma if config.r1_gamma is not None else 0.0002 * res**2 / batch,
        ema_kimg=config.ema_kimg if config.ema_kimg is not None else batch * 10 / 32,
        # The group stays within one GPU's share of the batch.
        mbstd_group_size=config.mbstd_group_size or max(1, min(batch // gpus, 4)),
        steps=config.steps if config.steps is not None else PAPER_TOTAL_KIMG * 1000 // batch,
    )
