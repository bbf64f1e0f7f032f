"""Building PhenDiff's network and its noise schedulers from the config, with diffusers.

One `DDIMScheduler` holds the alpha table used for training; the inverse scheduler is built from
the very same scheduler config, so inversion and generation read one alpha table (the research
code built them from different settings).
"""

from __future__ import annotations

from phenbench.core.dataset import DataSpec
from phenbench.core.unet_shape import check_unet_shape
from phenbench.core.torch_compat import ensure_torchvision_importable
from phenbench.translators.phendiff.config import PhenDiffConfig

ensure_torchvision_importable()

from diffusers import DDIMInverseScheduler, DDIMScheduler, UNet2DModel  # noqa: E402


def null_class(spec: DataSpec) -> int:
    """The class index reserved for 'no condition' (classifier-free guidance)."""
    return len(spec.conditions)


def build_unet(config: PhenDiffConfig, spec: DataSpec) -> UNet2DModel:
    """A pixel-space UNet2DModel with one class embedding per condition plus the null class."""
    check_unet_shape(spec.image_size, config.block_out_channels, config.norm_num_groups)
    levels = len(config.block_out_channels)
    if config.attention_at_lowest_resolution_only:
        down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D"]
        up = ["AttnUpBlock2D"] + ["UpBlock2D"] * (levels - 1)
    else:
        down, up = ["AttnDownBlock2D"] * levels, ["AttnUpBlock2D"] * levels
    return UNet2DModel(
        sample_size=spec.image_size,
        in_channels=spec.num_channels,
        out_channels=spec.num_channels,
        layers_per_block=config.layers_per_block,
        block_out_channels=tuple(config.block_out_channels),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=config.norm_num_groups,
        num_class_embeds=len(spec.conditions) + 1,  # + the null class
    )


def scheduler_settings(config: PhenDiffConfig) -> dict:
    """The noise-schedule settings shared by training, inversion and generation."""
    return {
        "num_train_timesteps": config.num_train_timesteps,
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
        "beta_schedule": config.beta_schedule,
        "rescale_betas_zero_snr": config.rescale_betas_zero_snr,
        "prediction_type": config.prediction_type,
        "clip_sample": config.clip_sample,
        "clip_sample_range": 1.0,
        "set_alpha_to_one": True,
        "steps_offset": 0,
        "timestep_spacing": config.timestep_spacing,
    }


def build_scheduler(config: PhenDiffConfig) -> DDIMScheduler:
    return DDIMScheduler(**scheduler_settings(config))


def build_inverse_scheduler(scheduler: DDIMScheduler) -> DDIMInverseScheduler:
    """The inverse scheduler, from the generation scheduler's own config (hence its alpha table)."""
    return DDIMInverseScheduler.from_config(scheduler.config)
